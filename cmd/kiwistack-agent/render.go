package main

import (
	"errors"
	"log/slog"

	"github.com/kiwistack/endpoint/internal/cli"
	"github.com/kiwistack/endpoint/launchers"
	"github.com/kiwistack/endpoint/launchers/catalog"
	"github.com/kiwistack/endpoint/launchers/chromium"
	"github.com/spf13/cobra"
)

// renderCmd is `kiwistack-agent render`: flags, then launchers.Render.
func renderCmd(stdio cli.IO, logger **slog.Logger) *cobra.Command {
	var o launchers.RenderOptions
	var routing string
	cmd := &cobra.Command{
		Use:   "render --os linux --tenant SLUG [--routing subdomain|path] --root DIR",
		Short: "Write the launchers, icons, browser policy and client configuration for one OS under a root directory",
		Long: "Write everything the launchers need on one OS (seed \"Desktop apps\") under DIR: desktop entries,\n" +
			"hicolor icons, Chromium and Google Chrome managed policy, Element Desktop's configuration. Only\n" +
			"files whose content changed are written; launchers that left the catalog are removed (the\n" +
			"manifest in DIR/var/lib/kiwistack/launchers says what the agent owns). Prints what it did.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if routing != "" {
				r, err := catalog.ParseRouting(routing)
				if err != nil {
					return cli.WithCode(cli.ExitUsage, err)
				}
				o.Routing = r
			}
			o.Log = *logger
			_, err := launchers.Render(stdio.Out, o)
			return renderExit(err)
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.OS, "os", "linux", "target OS: linux (darwin and windows are not implemented yet)")
	f.StringVar(&o.Tenant, "tenant", "", "tenant slug; renders the seed's default catalog")
	f.StringVar(&routing, "routing", "", "routing shape of the default catalog: subdomain (default) or path")
	f.StringVar(&o.CatalogFile, "catalog", "", "render this catalog (JSON, as the API sends it) instead of the defaults")
	f.StringVar(&o.Root, "root", "", "directory to write under (/ on a laptop)")
	f.StringVar(&o.Browser, "browser", "", "absolute path of the Chromium the launchers run (default: the first of chromium, chromium-browser, /snap/bin/chromium, google-chrome-stable, google-chrome)")
	_ = cmd.MarkFlagRequired("root")
	return cmd
}

func renderExit(err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, launchers.ErrUnsupportedOS), errors.Is(err, catalog.ErrInvalid):
		return cli.WithCode(cli.ExitUsage, err)
	case errors.Is(err, chromium.ErrNotFound):
		return cli.WithCode(cli.ExitNotFound, err)
	}
	return err
}
