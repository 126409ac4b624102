package main

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strconv"

	"github.com/kiwistack/endpoint/attest"
	"github.com/kiwistack/endpoint/enroll"
	"github.com/kiwistack/endpoint/enroll/apiclient"
	"github.com/kiwistack/endpoint/enroll/terminal"
	"github.com/kiwistack/endpoint/enroll/yubikey"
	"github.com/kiwistack/endpoint/internal/cli"
	"github.com/spf13/cobra"
)

// keysArgs are the flags shared by the keys verbs.
type keysArgs struct {
	json            bool
	attestationRoot string
	pinStdin        bool
	readers         []string
}

func keysCmd(stdio cli.IO, logger **slog.Logger) *cobra.Command {
	var a keysArgs
	cmd := &cobra.Command{
		Use:   "keys",
		Short: "List, inspect, verify and provision YubiKeys",
		Args:  cobra.NoArgs, // an unknown verb is an error, not help
		RunE:  func(cmd *cobra.Command, _ []string) error { return cmd.Help() },
	}
	cmd.PersistentFlags().BoolVar(&a.json, "json", false, "print JSON (a versioned schema) instead of text")
	cmd.PersistentFlags().StringVar(&a.attestationRoot, "attestation-root", "", "PEM bundle of attestation roots to trust instead of Yubico's (test keys)")
	cmd.PersistentFlags().BoolVar(&a.pinStdin, "pin-stdin", false, "read the PIN from standard input instead of prompting (scripts)")
	cmd.PersistentFlags().StringSliceVar(&a.readers, "reader", nil, "only look at readers whose name contains this (repeatable); by default every reader is asked")

	newKeys := func() (enroll.Keys, error) {
		ui := terminal.New(stdio.In, stdio.Err)
		if a.pinStdin {
			ui.WithPINFrom(stdio.In)
		}
		k := enroll.Keys{Client: yubikey.NewClient(yubikey.WithLogger(*logger), yubikey.WithReaders(a.readers...)), UI: ui, Out: stdio.Out, JSON: a.json}
		if a.attestationRoot != "" {
			v, err := enroll.VerifierFromFile(a.attestationRoot)
			if err != nil {
				return k, cli.WithCode(cli.ExitUsage, err)
			}
			k.Verifier = v
		}
		return k, nil
	}

	cmd.AddCommand(&cobra.Command{
		Use:   "list",
		Short: "List the YubiKeys connected to this computer",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			k, err := newKeys()
			if err != nil {
				return err
			}
			return exitCode(k.List(cmd.Context()))
		},
	})
	cmd.AddCommand(&cobra.Command{
		Use:   "info SERIAL",
		Short: "Show one YubiKey: firmware, holder, role, tenant and its verified attestation",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			serial, err := parseSerial(args[0])
			if err != nil {
				return err
			}
			k, err := newKeys()
			if err != nil {
				return err
			}
			return exitCode(k.Info(cmd.Context(), serial))
		},
	})
	var root string
	verify := &cobra.Command{
		Use:   "verify-attestation INTERMEDIATE.pem ATTESTATION.pem",
		Short: "Verify a YubiKey attestation (the f9 certificate and a slot's statement)",
		Long: "Verify a YubiKey attestation: INTERMEDIATE.pem is the key's slot f9 certificate, ATTESTATION.pem a slot's\n" +
			"attestation statement. Trusts Yubico's roots (both PKIs) unless --root names others. Exits 4 when the\n" +
			"chain does not verify.",
		Args: cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			return exitCode(enroll.VerifyAttestationFiles(stdio.Out, args[0], args[1], root, a.json))
		},
	}
	verify.Flags().StringVar(&root, "root", "", "PEM bundle of roots (and intermediates) to trust instead of Yubico's")
	cmd.AddCommand(verify)
	cmd.AddCommand(provisionCmd(newKeys))
	cmd.AddCommand(refreshCmd(newKeys))
	for _, v := range []struct {
		use, short string
		run        func(enroll.Keys, *cobra.Command, uint32) error
	}{
		{"change-pin [SERIAL]", "Change a YubiKey's PIN (asks for the current one and the new one twice)",
			func(k enroll.Keys, cmd *cobra.Command, s uint32) error { return k.ChangePIN(cmd.Context(), s) }},
		{"unblock-pin [SERIAL]", "Set a new PIN with the PUK after the PIN was blocked",
			func(k enroll.Keys, cmd *cobra.Command, s uint32) error { return k.UnblockPIN(cmd.Context(), s) }},
	} {
		cmd.AddCommand(&cobra.Command{
			Use:   v.use,
			Short: v.short,
			Args:  cobra.MaximumNArgs(1),
			RunE: func(cmd *cobra.Command, args []string) error {
				var serial uint32
				if len(args) == 1 {
					s, err := parseSerial(args[0])
					if err != nil {
						return err
					}
					serial = s
				}
				k, err := newKeys()
				if err != nil {
					return err
				}
				return exitCode(v.run(k, cmd, serial))
			},
		})
	}
	return cmd
}

func provisionCmd(newKeys func() (enroll.Keys, error)) *cobra.Command {
	var o enroll.ProvisionOptions
	var serial string
	cmd := &cobra.Command{
		Use:   "provision --admin NAME --role ROLE --tenant SLUG --api URL --root-fingerprint HEX --provisioning-token-file F",
		Short: "Provision a YubiKey for an admin: new PIN, PUK and management key, a 9a key, its certificate",
		Long: "Provision a YubiKey for a tenant admin (seed \"Authorization & trust\", Z2-Z3): replaces the PIN, PUK\n" +
			"and management key (the new ones are shown once, or written to --secrets-out with mode 0600),\n" +
			"generates a P-256 key in slot 9a on the card (PIN once, touch always), verifies its attestation,\n" +
			"signs a CSR with it (touch the key) and has the tenant API (--api, TLS pinned to --root-fingerprint,\n" +
			"authenticated by the MSP's provisioning token) certify it as CN=NAME, OU=ROLE, O=SLUG after checking\n" +
			"the attestation itself, stores the certificate in slot 9a and prints the roster entry for\n" +
			"policies/authorization.yaml.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if serial != "" {
				s, err := parseSerial(serial)
				if err != nil {
					return err
				}
				o.Serial = s
			}
			k, err := newKeys()
			if err != nil {
				return err
			}
			return exitCode(k.Provision(cmd.Context(), o))
		},
	}
	f := cmd.Flags()
	f.StringVar(&serial, "serial", "", "serial of the YubiKey to provision (needed when several are connected)")
	f.StringVar(&o.Admin, "admin", "", "the holder's name (certificate CN)")
	f.StringVar(&o.Role, "role", "", "the holder's role: founder, sysadmin, office-mgr, … (certificate OU)")
	f.StringVar(&o.Tenant, "tenant", "", "the tenant slug (certificate O)")
	f.StringVar(&o.APIURL, "api", "", "the tenant API's URL (e.g. https://localhost:8443, printed by kiwistack-api dev)")
	f.StringVar(&o.RootFingerprint, "root-fingerprint", "", "SHA-256 of the tenant root certificate (hex); the only root trusted for --api")
	f.StringVar(&o.ProvisioningTokenFile, "provisioning-token-file", "", "file holding the MSP's provisioning token (kiwistack-api dev: STATE/provisioning.token)")
	f.DurationVar(&o.Validity, "validity", 0, "how long the admin certificate is valid, 1h to 8760h (default: the CA's, one year)")
	f.StringVar(&o.SecretsPath, "secrets-out", "", "write the new PIN, PUK and management key to this new file (0600) instead of printing them")
	f.BoolVar(&o.FactoryDefaults, "factory-defaults", false, "the key still has Yubico's default PIN, PUK and management key")
	f.StringVar(&o.CurrentSecretsPath, "current-secrets", "", "secrets file of a key provisioned before")
	f.StringVar(&o.RosterPath, "roster-out", "", "also write the roster entry to this file")
	for _, name := range []string{"admin", "role", "tenant", "api", "root-fingerprint", "provisioning-token-file"} {
		_ = cmd.MarkFlagRequired(name)
	}
	return cmd
}

func parseSerial(s string) (uint32, error) {
	n, err := strconv.ParseUint(s, 10, 32)
	if err != nil || n == 0 {
		return 0, cli.WithCode(cli.ExitUsage, fmt.Errorf("%q is not a YubiKey serial number (a positive decimal number, printed on the key and by `keys list`)", s))
	}
	return uint32(n), nil
}

// exitCode maps the enroller's errors to the documented exit codes.
func exitCode(err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, yubikey.ErrNoKey), errors.Is(err, yubikey.ErrNotFound), errors.Is(err, os.ErrNotExist):
		return cli.WithCode(cli.ExitNotFound, err)
	case errors.Is(err, yubikey.ErrWrongPIN), errors.Is(err, yubikey.ErrPINBlocked), errors.Is(err, yubikey.ErrTouchTimeout),
		errors.Is(err, enroll.ErrAttestation), errors.Is(err, attest.ErrChain), errors.Is(err, attest.ErrKeyMismatch),
		errorsAsPUK(err), errors.Is(err, apiclient.ErrFingerprint), apiDenied(err):
		return cli.WithCode(cli.ExitDenied, err)
	default:
		return err
	}
}

// apiDenied reports an API error that refuses authentication or
// authorisation (401, 403).
func apiDenied(err error) bool {
	var ae *apiclient.Error
	return errors.As(err, &ae) && (ae.Status == 401 || ae.Status == 403)
}

func errorsAsPUK(err error) bool {
	var pe *yubikey.PUKError
	return errors.As(err, &pe)
}
