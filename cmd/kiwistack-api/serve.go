package main

import (
	"log/slog"
	"time"

	"github.com/kiwistack/endpoint/internal/cli"
	"github.com/kiwistack/endpoint/server/ca"
	"github.com/kiwistack/endpoint/server/serve"
	"github.com/spf13/cobra"
)

// serveCmd is `kiwistack-api serve --config FILE` (serve.Run) and
// `kiwistack-api serve provisioners` (serve.PrintProvisioners).
func serveCmd(stdio cli.IO, logger **slog.Logger) *cobra.Command {
	var configFile string
	cmd := &cobra.Command{
		Use:   "serve --config FILE",
		Short: "Run the tenant API in production against an external step-ca",
		Long: "Reads FILE (YAML, docs/serve.md), pins step-ca's root by its fingerprint, loads the provisioner keys,\n" +
			"opens the database and serves the API (/v1/…, /healthz, /readyz) on TLS until interrupted.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := serve.LoadConfig(configFile)
			if err != nil {
				return cli.WithCode(cli.ExitUsage, err)
			}
			return serve.Run(cmd.Context(), cfg, serve.Options{Logger: *logger, Out: stdio.Out})
		},
	}
	cmd.Flags().StringVar(&configFile, "config", "", "the configuration file (YAML)")
	_ = cmd.MarkFlagRequired("config")

	var tenant, deviceKey, adminKey string
	var grace time.Duration
	prov := &cobra.Command{
		Use:   "provisioners --tenant SLUG --device-key PUB.json [--admin-key PUB.json]",
		Short: "Print the provisioners to add to step-ca's ca.json (authority.provisioners)",
		Args:  cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error {
			return serve.PrintProvisioners(stdio.Out, tenant, deviceKey, adminKey, grace)
		},
	}
	prov.Flags().StringVar(&tenant, "tenant", "", "the tenant slug (e.g. acme-corp)")
	prov.Flags().StringVar(&deviceKey, "device-key", "", "the device provisioner's public JWK file")
	prov.Flags().StringVar(&adminKey, "admin-key", "", "the admin provisioner's public JWK file (optional)")
	prov.Flags().DurationVar(&grace, "renewal-grace", ca.DefaultRenewalGrace, "0 refuses renewal after expiry; above 0 step-ca allows it without a bound")
	_ = prov.MarkFlagRequired("tenant")
	_ = prov.MarkFlagRequired("device-key")
	cmd.AddCommand(prov)
	return cmd
}
