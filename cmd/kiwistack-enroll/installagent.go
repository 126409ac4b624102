package main

import (
	"errors"
	"fmt"
	"io/fs"
	"log/slog"

	"github.com/kiwistack/endpoint/enroll/agentpkg"
	"github.com/kiwistack/endpoint/internal/cli"
	"github.com/spf13/cobra"
)

// installAgentCmd is `kiwistack-enroll install-agent` (agentpkg.Install).
func installAgentCmd(stdio cli.IO, logger **slog.Logger) *cobra.Command {
	var o agentpkg.Options
	cmd := &cobra.Command{
		Use:   "install-agent PACKAGE [--signature FILE]",
		Short: "Install a KiwiStack agent package after checking its signature against the built-in release key",
		Long: "Install the agent package (.deb on Linux, .pkg on macOS, .msi on Windows) with the system's installer\n" +
			"(dpkg -i, installer -pkg, msiexec /i), but only after its detached minisign signature (default\n" +
			"PACKAGE.minisig) verifies against the release key built into this enroller (docs/packages.md).\n" +
			"Nothing is installed otherwise. Needs root (administrator on Windows).\n" +
			"Exit codes: 2 usage, 3 package not found, 4 signature does not verify or no built-in key, 1 installer failed.",
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			o.Package = args[0]
			o.InstallerOptions.Stdout, o.InstallerOptions.Stderr = stdio.Err, stdio.Err
			(*logger).Info("installing agent package", "package", o.Package)
			res, err := agentpkg.Install(cmd.Context(), o)
			switch {
			case errors.Is(err, agentpkg.ErrNoTrustedKey), errors.Is(err, agentpkg.ErrNotVerified):
				return cli.WithCode(cli.ExitDenied, err)
			case errors.Is(err, fs.ErrNotExist):
				return cli.WithCode(cli.ExitNotFound, err)
			case err != nil:
				return err
			}
			fmt.Fprintf(stdio.Out, "verified %s: signed by release key %s (%s)\ninstalled %s; `kiwistack-enroll enroll` enrolls this laptop if it is not yet enrolled\n",
				res.Package, res.KeyID, res.TrustedComment, res.Package)
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.Signature, "signature", "", "the package's detached minisign signature (default PACKAGE.minisig)")
	f.StringVar(&o.InstallerOptions.Root, "root", "", "Linux only: install into this root directory (dpkg --root), for tests and images")
	return cmd
}
