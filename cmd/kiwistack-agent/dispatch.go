package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"

	"github.com/kiwistack/endpoint/internal/cli"
	"github.com/kiwistack/endpoint/launchers"
	"github.com/kiwistack/endpoint/launchers/catalog"
	"github.com/kiwistack/endpoint/launchers/dispatch"
	"github.com/kiwistack/endpoint/launchers/dispatch/handoff"
	"github.com/spf13/cobra"
)

// dispatchCmd is `kiwistack-agent dispatch URL` (the installed URL
// dispatcher: launchers.Dispatch, then the process becomes the target) and
// `kiwistack-agent dispatch --explain URL` (launchers.Explain).
func dispatchCmd(stdio cli.IO, _ **slog.Logger) *cobra.Command {
	var o launchers.ExplainOptions
	var explain, appleEvents bool
	var routing string
	cmd := &cobra.Command{
		Use:   "dispatch [--state FILE] [--] URL | dispatch --apple-events [--state FILE] [URL] | dispatch --explain URL [--json]",
		Short: "Open a URL where the URL dispatcher sends it, or say where that is, and why",
		Long: "The URL dispatcher (seed \"Desktop apps\", C5 v2), registered as the default browser: a URL of one of\n" +
			"the tenant's apps opens in that launcher's app window, any other URL in the browser that was the\n" +
			"default before; the process becomes the browser, and nothing passes through a shell. It decides from\n" +
			"the state `render` wrote (--state, default " + launchers.DefaultDispatchState + ").\n\n" +
			"--apple-events is the macOS dispatcher app (the KiwiStack.app bundle execs it): it waits up to " + launchers.AppleEventTimeout.String() + "\n" +
			"for the get-URL Apple Event macOS sends the default browser, or takes URL when given one, and opens it\n" +
			"the same way; started without a URL, it opens nothing and exits 0.\n\n" +
			"--explain opens nothing and prints where URL would go (which launcher, or the previous browser, or\n" +
			"nowhere), the exact command and why; from the installed state, or from --tenant/--catalog with\n" +
			"--browser and --previous-browser. --json prints the kiwistack.dispatch.explain/v1 schema.",
		Args: func(cmd *cobra.Command, args []string) error {
			if appleEvents {
				return cobra.MaximumNArgs(1)(cmd, args)
			}
			return cobra.ExactArgs(1)(cmd, args)
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			if routing != "" {
				r, err := catalog.ParseRouting(routing)
				if err != nil {
					return cli.WithCode(cli.ExitUsage, err)
				}
				o.Routing = r
			}
			fromCatalog := o.Tenant != "" || o.CatalogFile != "" || o.Routing != "" || o.Browser != "" || o.Previous != ""
			if appleEvents {
				if explain || fromCatalog || o.JSON {
					return cli.WithCode(cli.ExitUsage, errors.New("--apple-events goes only with --state"))
				}
				err := openFromApp(cmd.Context(), args, o.StateFile)
				if errors.Is(err, launchers.ErrNoURL) {
					fmt.Fprintf(stdio.Err, "kiwistack-agent: %v\n", err)
					return nil
				}
				return dispatchExit(err)
			}
			if !explain {
				if fromCatalog || o.JSON {
					return cli.WithCode(cli.ExitUsage, errors.New("--tenant, --catalog, --routing, --browser, --previous-browser and --json go with --explain; opening a URL uses the installed state"))
				}
				return dispatchExit(openURL(args[0], o.StateFile))
			}
			if o.StateFile == "" && !fromCatalog {
				o.StateFile = launchers.DefaultDispatchState
			}
			return dispatchExit(launchers.Explain(stdio.Out, args[0], o))
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.StateFile, "state", "", "the dispatcher's state file (default "+launchers.DefaultDispatchState+")")
	f.BoolVar(&explain, "explain", false, "explain the decision without opening anything")
	f.BoolVar(&appleEvents, "apple-events", false, "macOS: take the URL from the get-URL Apple Event (the dispatcher app)")
	f.BoolVar(&o.JSON, "json", false, "with --explain, print JSON (schema kiwistack.dispatch.explain/v1)")
	f.StringVar(&o.Tenant, "tenant", "", "with --explain, decide for the seed's default catalog of this tenant slug")
	f.StringVar(&routing, "routing", "", "routing shape of the default catalog: subdomain (default) or path")
	f.StringVar(&o.CatalogFile, "catalog", "", "with --explain, decide for this catalog (JSON, as the API sends it)")
	f.StringVar(&o.Browser, "browser", "", "with --explain, absolute path of the Chromium for app windows (default: looked up)")
	f.StringVar(&o.Previous, "previous-browser", "", "with --explain, absolute path of the browser that was the default before the dispatcher")
	return cmd
}

// openURL is the installed dispatcher: decide from the state, then become
// the target. It returns only when nothing was opened.
func openURL(url, state string) error {
	if state == "" {
		state = launchers.DefaultDispatchState
	}
	self, _ := os.Executable()
	_, err := launchers.Dispatch(url, launchers.DispatchOptions{StateFile: state, Self: self, Env: os.Environ(), Exec: handoff.Exec})
	return err
}

// openFromApp is the macOS dispatcher app: the URL from args or from the
// get-URL Apple Event, then as openURL.
func openFromApp(ctx context.Context, args []string, state string) error {
	if state == "" {
		state = launchers.DefaultDispatchState
	}
	self, _ := os.Executable()
	_, err := launchers.DispatchApp(ctx, args, launchers.AppOptions{
		DispatchOptions: launchers.DispatchOptions{StateFile: state, Self: self, Env: os.Environ(), Exec: handoff.Exec},
	})
	return err
}

func dispatchExit(err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, catalog.ErrInvalid):
		return cli.WithCode(cli.ExitUsage, err)
	case errors.Is(err, launchers.ErrNoState), errors.Is(err, launchers.ErrNoPrevious):
		return cli.WithCode(cli.ExitNotFound, err)
	case errors.Is(err, launchers.ErrRefused), errors.Is(err, dispatch.ErrInvalidState):
		return cli.WithCode(cli.ExitFailure, err)
	}
	return err
}
