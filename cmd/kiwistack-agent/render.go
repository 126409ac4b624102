package main

import (
	"errors"
	"fmt"
	"log/slog"

	"github.com/kiwistack/endpoint/internal/cli"
	"github.com/kiwistack/endpoint/launchers"
	"github.com/kiwistack/endpoint/launchers/catalog"
	"github.com/kiwistack/endpoint/launchers/chromium"
	"github.com/kiwistack/endpoint/launchers/windows"
	"github.com/kiwistack/endpoint/launchers/winreg"
	"github.com/kiwistack/endpoint/launchers/xdg"
	"github.com/spf13/cobra"
)

// renderCmd is `kiwistack-agent render`: flags, then launchers.Render.
func renderCmd(stdio cli.IO, logger **slog.Logger) *cobra.Command {
	var o launchers.RenderOptions
	var routing string
	var registry bool
	cmd := &cobra.Command{
		Use:   "render --os linux|darwin|windows --tenant SLUG [--routing subdomain|path] --root DIR",
		Short: "Write the launchers, icons, browser policy and client configuration for one OS under a root directory",
		Long: "Write everything the launchers need on one OS (seed \"Desktop apps\") under DIR. Linux: desktop\n" +
			"entries, hicolor icons, Chromium and Google Chrome managed policy, Element Desktop's configuration.\n" +
			"macOS: an .app bundle per launcher in Applications/KiwiStack, the policy as plists in\n" +
			"Library/Managed Preferences and as a .mobileconfig profile for the MDM. Windows (DIR stands for\n" +
			"C:\\): .lnk shortcuts in the all-users Start Menu and on the public Desktop, .ico files, and the\n" +
			"registry values as a .reg file; --registry also writes them into this PC's registry. Only files\n" +
			"whose content changed are written; launchers that left the catalog are removed (a manifest under\n" +
			"DIR says what the agent owns). Prints what it did.",
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
			if registry {
				s, err := winreg.OpenMachine()
				if err != nil {
					return cli.WithCode(cli.ExitUsage, fmt.Errorf("--registry: %w", err))
				}
				o.Registry = s
			}
			_, err := launchers.Render(stdio.Out, o)
			return renderExit(err)
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.OS, "os", "linux", "target OS: linux, darwin or windows")
	f.StringVar(&o.Tenant, "tenant", "", "tenant slug; renders the seed's default catalog")
	f.StringVar(&routing, "routing", "", "routing shape of the default catalog: subdomain (default) or path")
	f.StringVar(&o.CatalogFile, "catalog", "", "render this catalog (JSON, as the API sends it) instead of the defaults")
	f.StringVar(&o.Root, "root", "", "directory to write under (/ on a laptop)")
	f.StringVar(&o.Browser, "browser", "", "the Chromium the launchers run: on Linux an absolute path (default: the first of chromium, chromium-browser,\n"+
		"/snap/bin/chromium, google-chrome-stable, google-chrome found), on Windows chrome.exe's path (default: "+windows.DefaultBrowser+"); not for macOS")
	f.StringVar(&o.Agent, "agent", "", "the kiwistack-agent the URL dispatcher's registration runs (Linux default "+xdg.DefaultAgent+")")
	f.StringVar(&o.DispatchState, "dispatch-state", "", "the dispatcher state file its registration names (default: where render writes it, under / rather than DIR)")
	f.StringVar(&o.PreviousBrowser, "previous-browser", "", "where links that are not the tenant's go: on Linux a desktop-file ID under DIR (default: the current default in DIR's mimeapps.list)")
	f.BoolVar(&registry, "registry", false, "with --os windows, also write the registry values into this PC's HKEY_LOCAL_MACHINE (Windows, as administrator)")
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
