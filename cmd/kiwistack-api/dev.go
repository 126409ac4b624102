package main

import (
	"log/slog"

	"github.com/kiwistack/endpoint/internal/cli"
	"github.com/kiwistack/endpoint/server/dev"
	"github.com/spf13/cobra"
)

// devCmd is `kiwistack-api dev --state DIR --tenant SLUG [--listen ADDR]` (dev.Run).
func devCmd(stdio cli.IO, logger **slog.Logger) *cobra.Command {
	var o dev.Options
	cmd := &cobra.Command{
		Use:   "dev --state DIR --tenant SLUG [--listen ADDR] [--attestation-root FILE]",
		Short: "Run a complete local tenant: PKI, embedded step-ca, store and API on one TLS listener",
		Long: "Creates (once) the tenant's root, intermediate and TLS certificate in DIR, starts step-ca in-process,\n" +
			"opens DIR/api.db and serves the API (/v1/…, /healthz, /readyz) and step-ca (/health, /roots, /renew, …)\n" +
			"on one TLS listener until interrupted. The MSP's provisioning token for admin certificates is made once\n" +
			"in DIR/provisioning.token (0600). Restarting with the same DIR keeps everything.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			o.Logger, o.Out = *logger, stdio.Out
			return dev.Run(cmd.Context(), o)
		},
	}
	cmd.Flags().StringVar(&o.StateDir, "state", "", "the state directory (created 0700 if missing)")
	cmd.Flags().StringVar(&o.Tenant, "tenant", "", "the tenant slug (e.g. acme-corp)")
	cmd.Flags().StringVar(&o.Listen, "listen", dev.DefaultListen, "the TCP address to serve on")
	cmd.Flags().StringVar(&o.AttestationRootFile, "attestation-root", "", "PEM roots trusted for YubiKey attestations besides Yubico's (the virtual YubiKey's; tests and demos only)")
	cmd.Flags().StringVar(&o.PolicyFile, "policy", "", "the tenant's policies/authorization.yaml (kiwistack-api policy check validates it); default: the built-in default policy")
	_ = cmd.MarkFlagRequired("state")
	_ = cmd.MarkFlagRequired("tenant")
	return cmd
}
