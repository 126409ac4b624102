package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"

	"github.com/kiwistack/endpoint/enroll"
	"github.com/kiwistack/endpoint/enroll/apiclient"
	"github.com/kiwistack/endpoint/enroll/terminal"
	"github.com/kiwistack/endpoint/enroll/yubikey"
	"github.com/kiwistack/endpoint/internal/cli"
	"github.com/kiwistack/endpoint/platform/paths"
	"github.com/spf13/cobra"
)

// openAdminSigner opens the signing key of the admin verbs: slot 9a of a
// YubiKey. Tests replace it with a software key.
var openAdminSigner = func(ctx context.Context, c *yubikey.Client, ui yubikey.UI, serial uint32) (enroll.StatementSigner, error) {
	return enroll.OpenYubiKeySigner(ctx, c, ui, serial)
}

// adminCmd is `kiwistack-enroll admin request|sign|status|list|cancel|audit|recovery-key`
// (enroll.Admin).
func adminCmd(stdio cli.IO, logger **slog.Logger) *cobra.Command {
	var (
		o          enroll.AdminOptions
		configPath string
		serial     string
		pinStdin   bool
		readers    []string
	)
	cmd := &cobra.Command{
		Use:   "admin",
		Short: "Request, sign, cancel and follow privileged operations, and read the audit log",
		Long: "The seven hops of seed Z5: `request` asks the tenant API for an operation and shows what it asks for;\n" +
			"each signer runs `sign ID`, which shows the operation in words before the YubiKey's PIN prompt; the API\n" +
			"applies it once the policy's signatures are collected (or stages it behind its delay). --api, --tenant and\n" +
			"--root-fingerprint come from the enroller's configuration file like `enroll`'s. Exit codes: 2 usage,\n" +
			"3 no YubiKey or no such operation, 4 PIN, touch or the API refused.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return cmd.Help() },
	}
	// admin builds the runner after the flags are parsed.
	admin := func(cmd *cobra.Command) (enroll.Admin, error) {
		required := cmd.Flags().Changed("config")
		if !required {
			configPath = paths.Under("").EnrollConfig()
		}
		c, err := enroll.ReadConfig(configPath, required)
		if err != nil {
			return enroll.Admin{}, cli.WithCode(cli.ExitUsage, err)
		}
		m := c.Merge(enroll.EnrollOptions{APIURL: o.APIURL, Tenant: o.Tenant, RootFingerprint: o.RootFingerprint})
		o.APIURL, o.Tenant, o.RootFingerprint = m.APIURL, m.Tenant, m.RootFingerprint
		if serial != "" {
			if o.Serial, err = parseSerial(serial); err != nil {
				return enroll.Admin{}, err
			}
		}
		if err := enroll.CheckAdminOptions(o); err != nil {
			return enroll.Admin{}, cli.WithCode(cli.ExitUsage, err)
		}
		ui := terminal.New(stdio.In, stdio.Err)
		if pinStdin {
			ui.WithPINFrom(stdio.In)
		}
		return enroll.Admin{
			Dial: func(ctx context.Context, apiURL, fp string) (enroll.AdminAPI, error) {
				return apiclient.Dial(ctx, apiURL, fp)
			},
			OpenSigner: func(ctx context.Context, serial uint32) (enroll.StatementSigner, error) {
				return openAdminSigner(ctx, yubikey.NewClient(yubikey.WithLogger(*logger), yubikey.WithReaders(readers...)), ui, serial)
			},
			Out: stdio.Out,
			Err: stdio.Err,
		}, nil
	}
	with := func(run func(ctx context.Context, a enroll.Admin, args []string) error) func(*cobra.Command, []string) error {
		return func(cmd *cobra.Command, args []string) error {
			a, err := admin(cmd)
			if err != nil {
				return err
			}
			return adminExitCode(run(cmd.Context(), a, args))
		}
	}
	pf := cmd.PersistentFlags()
	pf.StringVar(&configPath, "config", "", "the enroller's configuration file (default: the one the installer ships, e.g. /etc/kiwistack/enroll.yaml)")
	pf.StringVar(&o.APIURL, "api", "", "the tenant API's URL (https)")
	pf.StringVar(&o.Tenant, "tenant", "", "the tenant slug (e.g. acme-corp)")
	pf.StringVar(&o.RootFingerprint, "root-fingerprint", "", "SHA-256 of the tenant root certificate, 64 hex digits")
	pf.BoolVar(&o.JSON, "json", false, "print JSON (schema kiwistack.admin/v1, enroll/adminjson); sign and cancel show the operation on standard error")

	var params []string
	var document string
	request := &cobra.Command{
		Use:   "request OPERATION [--param NAME=VALUE]… [--document FILE]",
		Short: "Request a privileged operation and show what signers will sign",
		Long: "Parameters per operation: remote_lock, remote_wipe, reenroll_consent: device_id; burn_key, remove_admin:\n" +
			"serial; add_admin: serial, admin, role, public_key_sha256, certificate=@FILE (from keys provision);\n" +
			"policy_change: --document POLICY.yaml; change_jurisdiction: jurisdiction; tenant_delete: none. Every\n" +
			"operation takes an optional reason. NAME=@FILE reads the value from FILE.",
		Args: cobra.ExactArgs(1),
		RunE: with(func(ctx context.Context, a enroll.Admin, args []string) error {
			p, err := enroll.ParseParams(params)
			if err != nil {
				return cli.WithCode(cli.ExitUsage, err)
			}
			return a.Request(ctx, o, args[0], p, document)
		}),
	}
	request.Flags().StringArrayVar(&params, "param", nil, "a parameter NAME=VALUE (repeatable; NAME=@FILE reads FILE)")
	request.Flags().StringVar(&document, "document", "", "policy_change: the new policies/authorization.yaml")

	signFlags := func(c *cobra.Command) {
		c.Flags().StringVar(&serial, "serial", "", "serial of the YubiKey to sign with (needed when several are connected)")
		c.Flags().BoolVar(&pinStdin, "pin-stdin", false, "read the PIN from standard input instead of prompting (scripts)")
		c.Flags().StringSliceVar(&readers, "reader", nil, "only look at readers whose name contains this (repeatable)")
	}
	sign := &cobra.Command{
		Use:   "sign ID",
		Short: "Show operation ID in words, then approve it with the YubiKey (PIN, touch)",
		Args:  cobra.ExactArgs(1),
		RunE: with(func(ctx context.Context, a enroll.Admin, args []string) error {
			return a.Sign(ctx, o, args[0])
		}),
	}
	signFlags(sign)
	cancel := &cobra.Command{
		Use:   "cancel ID",
		Short: "Cancel a staged operation (change_jurisdiction, tenant_delete) during its delay with the YubiKey",
		Args:  cobra.ExactArgs(1),
		RunE: with(func(ctx context.Context, a enroll.Admin, args []string) error {
			return a.Cancel(ctx, o, args[0])
		}),
	}
	signFlags(cancel)
	status := &cobra.Command{
		Use:   "status [ID]",
		Short: "Show one operation, or the open ones (a read_status signed with the YubiKey)",
		Args:  cobra.MaximumNArgs(1),
		RunE: with(func(ctx context.Context, a enroll.Admin, args []string) error {
			id := ""
			if len(args) == 1 {
				id = args[0]
			}
			return a.Status(ctx, o, id)
		}),
	}
	var states string
	list := &cobra.Command{
		Use:   "list [--state STATES]",
		Short: "List operations, newest first (a read_status signed with the YubiKey: seed Z1)",
		Args:  cobra.NoArgs,
		RunE: with(func(ctx context.Context, a enroll.Admin, _ []string) error {
			return a.List(ctx, o, states)
		}),
	}
	signFlags(status)
	signFlags(list)
	list.Flags().StringVar(&states, "state", "", "only these states, comma-separated (pending, staged, approved, applied, cancelled, expired, rejected)")
	var verify bool
	audit := &cobra.Command{
		Use:   "audit [--verify]",
		Short: "Print the tenant's audit log (a read_audit signed with the YubiKey: seed Z1); --verify checks its hash chain here",
		Args:  cobra.NoArgs,
		RunE: with(func(ctx context.Context, a enroll.Admin, _ []string) error {
			return a.Audit(ctx, o, verify)
		}),
	}
	signFlags(audit)
	audit.Flags().BoolVar(&verify, "verify", false, "verify the whole hash chain and fail at the first edited, removed or reordered entry")
	var ro enroll.RecoveryKeyOptions
	recoveryKey := &cobra.Command{
		Use:   "recovery-key DEVICE | --operation ID",
		Short: "Read a device's escrowed disk recovery key through the signed read_recovery_key (YubiKey)",
		Long: "Requests read_recovery_key with a one-time key made here, signs it with the YubiKey, and once it is\n" +
			"applied opens and shows the released key; the device rotates it at its next check-in. When more\n" +
			"signatures are needed, the one-time key waits in --key-dir (0600) and --operation ID resumes.",
		Args: cobra.MaximumNArgs(1),
		RunE: with(func(ctx context.Context, a enroll.Admin, args []string) error {
			if len(args) == 1 {
				ro.DeviceID = args[0]
			}
			if (ro.DeviceID == "") == (ro.Operation == "") {
				return cli.WithCode(cli.ExitUsage, errors.New("name a DEVICE or --operation ID"))
			}
			if ro.KeyDir == "" {
				d, err := os.UserConfigDir()
				if err != nil {
					return cli.WithCode(cli.ExitUsage, fmt.Errorf("no --key-dir and no user configuration directory: %w", err))
				}
				ro.KeyDir = filepath.Join(d, "kiwistack", "recovery")
			}
			return a.RecoveryKey(ctx, o, ro)
		}),
	}
	signFlags(recoveryKey)
	recoveryKey.Flags().StringVar(&ro.Operation, "operation", "", "resume an operation requested before from this laptop")
	recoveryKey.Flags().StringVar(&ro.KeyDir, "key-dir", "", "where one-time keys wait (default: the user's configuration directory/kiwistack/recovery)")
	recoveryKey.Flags().StringVar(&ro.Reason, "reason", "", "why, in words (recorded with the operation)")
	cmd.AddCommand(request, sign, cancel, status, list, audit, recoveryKey)
	return cmd
}

// adminExitCode maps the admin verbs' errors to the documented exit codes.
func adminExitCode(err error) error {
	var ae *apiclient.Error
	switch {
	case err == nil:
		return nil
	case errors.As(err, &ae) && ae.Status == 404:
		return cli.WithCode(cli.ExitNotFound, err)
	case errors.As(err, &ae) && ae.Status >= 400 && ae.Status < 500, errors.Is(err, enroll.ErrAuditBroken):
		return cli.WithCode(cli.ExitDenied, err)
	}
	return exitCode(err)
}
