package main

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"

	"github.com/kiwistack/endpoint/enroll"
	"github.com/kiwistack/endpoint/enroll/apiclient"
	"github.com/kiwistack/endpoint/enroll/terminal"
	"github.com/kiwistack/endpoint/enroll/yubikey"
	"github.com/kiwistack/endpoint/internal/cli"
	"github.com/kiwistack/endpoint/platform/hwid"
	"github.com/kiwistack/endpoint/platform/paths"
	"github.com/spf13/cobra"
)

// enrollCmd is `kiwistack-enroll enroll` (enroll.Enroller).
func enrollCmd(stdio cli.IO, logger **slog.Logger) *cobra.Command {
	var (
		o          enroll.EnrollOptions
		configPath string
		serial     string
		asJSON     bool
		pinStdin   bool
		readers    []string
	)
	cmd := &cobra.Command{
		Use:   "enroll [--api URL --tenant SLUG --root-fingerprint HEX]",
		Short: "Enroll this laptop: YubiKey PIN and touch, then a 24 h device certificate from the tenant",
		Long: "Enroll this laptop into the tenant (seed \"Device delivery & enrollment\", D3): finds the YubiKey, makes a\n" +
			"device key (P-256, kept on this laptop, 0600) and its CSR, asks the tenant API for a challenge, has slot 9a\n" +
			"sign it after PIN and touch, and installs the 24 h device certificate, its key and the tenant root where\n" +
			"the agent expects them. The installer ships --api, --tenant and --root-fingerprint in the configuration\n" +
			"file (--config); flags override it. Exit codes: 2 usage, 3 no YubiKey, 4 PIN, touch or the API refused.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			layout := paths.Under(o.Root)
			required := cmd.Flags().Changed("config")
			if !required {
				configPath = layout.EnrollConfig()
			}
			c, err := enroll.ReadConfig(configPath, required)
			if err != nil {
				return cli.WithCode(cli.ExitUsage, err)
			}
			o = c.Merge(o)
			if serial != "" {
				if o.Serial, err = parseSerial(serial); err != nil {
					return err
				}
			}
			if err := enroll.CheckEnrollOptions(o); err != nil {
				return cli.WithCode(cli.ExitUsage, err)
			}
			ui := terminal.New(stdio.In, stdio.Err)
			if pinStdin {
				ui.WithPINFrom(stdio.In)
			}
			progress := stdio.Out
			if asJSON {
				progress = stdio.Err
			}
			e := enroll.Enroller{
				Client:   yubikey.NewClient(yubikey.WithLogger(*logger), yubikey.WithReaders(readers...)),
				UI:       ui,
				Progress: progress,
				Fingerprint: func(ctx context.Context) (string, error) {
					fp, err := hwid.Read(ctx)
					return fp.Value, err
				},
				Dial: func(ctx context.Context, apiURL, fingerprint string) (enroll.API, error) {
					return apiclient.Dial(ctx, apiURL, fingerprint)
				},
			}
			res, err := e.Enroll(cmd.Context(), o)
			if err != nil {
				return enrollExitCode(err)
			}
			if asJSON {
				enc := json.NewEncoder(stdio.Out)
				enc.SetIndent("", "  ")
				return enc.Encode(res.JSON())
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&configPath, "config", "", "the enroller's configuration file (default: the one the installer ships, e.g. /etc/kiwistack/enroll.yaml)")
	f.StringVar(&o.APIURL, "api", "", "the tenant API's URL (https)")
	f.StringVar(&o.Tenant, "tenant", "", "the tenant slug (e.g. acme-corp)")
	f.StringVar(&o.RootFingerprint, "root-fingerprint", "", "SHA-256 of the tenant root certificate, 64 hex digits (kiwistack-api dev prints it)")
	f.StringVar(&serial, "serial", "", "serial of the YubiKey to use (needed when several are connected)")
	f.StringVar(&o.Root, "root", "", "install under this directory instead of / (sandboxes and tests)")
	f.StringVar(&o.HardwareFingerprint, "hardware-fingerprint", "", "use this hardware fingerprint instead of reading it (machines without DMI or machine-id, e.g. containers)")
	f.BoolVar(&o.Reenroll, "reenroll", false, "replace this laptop's existing enrollment (an administrator must have allowed it)")
	f.BoolVar(&asJSON, "json", false, "print the result as JSON (schema kiwistack.enroll/v1); progress goes to standard error")
	f.BoolVar(&pinStdin, "pin-stdin", false, "read the PIN from standard input instead of prompting (scripts)")
	f.StringSliceVar(&readers, "reader", nil, "only look at readers whose name contains this (repeatable)")
	return cmd
}

// enrollExitCode maps the ceremony's errors to the documented exit codes:
// the API's refusals (4xx other than usage) are ExitDenied.
func enrollExitCode(err error) error {
	var ae *apiclient.Error
	if errors.As(err, &ae) && ae.Status >= 400 && ae.Status < 500 {
		return cli.WithCode(cli.ExitDenied, err)
	}
	return exitCode(err)
}
