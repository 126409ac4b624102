package main

import (
	"errors"
	"log/slog"

	"github.com/kiwistack/endpoint/internal/cli"
	"github.com/kiwistack/endpoint/launchers"
	"github.com/kiwistack/endpoint/launchers/catalog"
	"github.com/spf13/cobra"
)

// dispatchCmd is `kiwistack-agent dispatch --explain URL`: flags, then
// launchers.Explain.
func dispatchCmd(stdio cli.IO, _ **slog.Logger) *cobra.Command {
	var o launchers.ExplainOptions
	var explain bool
	var routing string
	cmd := &cobra.Command{
		Use:   "dispatch --explain URL [--json]",
		Short: "Say where the URL dispatcher would send a URL, and why, without opening anything",
		Long: "Say where the URL dispatcher (seed \"Desktop apps\", C5 v2) would send URL: to one of the tenant's\n" +
			"launcher app windows (with the exact command), to the previous default browser, or nowhere, and\n" +
			"why. --json prints the kiwistack.dispatch.explain/v1 schema. Opening URLs is not implemented yet;\n" +
			"--explain is required.",
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if !explain {
				return cli.WithCode(cli.ExitUsage, errors.New("only --explain is implemented: the dispatcher does not open URLs yet"))
			}
			if routing != "" {
				r, err := catalog.ParseRouting(routing)
				if err != nil {
					return cli.WithCode(cli.ExitUsage, err)
				}
				o.Routing = r
			}
			err := launchers.Explain(stdio.Out, args[0], o)
			if errors.Is(err, catalog.ErrInvalid) {
				return cli.WithCode(cli.ExitUsage, err)
			}
			return err
		},
	}
	f := cmd.Flags()
	f.BoolVar(&explain, "explain", false, "explain the decision without opening anything (required)")
	f.BoolVar(&o.JSON, "json", false, "print JSON (schema kiwistack.dispatch.explain/v1)")
	f.StringVar(&o.Tenant, "tenant", "", "tenant slug; uses the seed's default catalog")
	f.StringVar(&routing, "routing", "", "routing shape of the default catalog: subdomain (default) or path")
	f.StringVar(&o.CatalogFile, "catalog", "", "use this catalog (JSON, as the API sends it)")
	f.StringVar(&o.Browser, "browser", "", "absolute path of the Chromium for app windows (default: looked up)")
	f.StringVar(&o.Previous, "previous-browser", "", "absolute path of the browser that was the default before the dispatcher")
	return cmd
}
