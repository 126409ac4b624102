package main

import (
	"errors"
	"log/slog"

	"github.com/kiwistack/endpoint/internal/cli"
	"github.com/kiwistack/endpoint/server/bootstrap"
	"github.com/kiwistack/endpoint/server/store"
	"github.com/spf13/cobra"
)

// bootstrapCmd is `kiwistack-api bootstrap create|list|revoke --state DIR`
// (bootstrap.Create, bootstrap.List, bootstrap.Revoke).
func bootstrapCmd(stdio cli.IO, _ **slog.Logger) *cobra.Command {
	var dir string
	cmd := &cobra.Command{
		Use:   "bootstrap",
		Short: "Create, list and revoke OEM bootstrap tokens (zero-touch first-boot claims)",
		Args:  cobra.NoArgs,
		RunE:  func(cmd *cobra.Command, _ []string) error { return cmd.Help() },
	}
	cmd.PersistentFlags().StringVar(&dir, "state", "", "the state directory of kiwistack-api dev")
	_ = cmd.MarkPersistentFlagRequired("state")

	var o bootstrap.CreateOptions
	expires := "30d"
	create := &cobra.Command{
		Use:   "create --state DIR --serial HWSERIAL --api URL [--expires 30d] [--out FILE]",
		Short: "Create a single-use token for one laptop and print it once with its OEM bootstrap file",
		Long: "The token is bound to the laptop's hardware serial and this tenant; only its SHA-256 is kept.\n" +
			"The creation is written to the audit log with actor 0, the operator at the server\n" +
			"(later a signed bootstrap_token_create operation). See docs/oem-claim.md.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			d, err := bootstrap.ParseLifetime(expires)
			if err != nil || d > bootstrap.MaxLifetime {
				return cli.WithCode(cli.ExitUsage, errors.New("--expires: want a lifetime such as 30d or 12h, at most 365d"))
			}
			o.Lifetime = d
			return bootstrapExitCode(bootstrap.Create(cmd.Context(), stdio.Out, dir, o))
		},
	}
	create.Flags().StringVar(&o.Serial, "serial", "", "the hardware serial of the laptop (as its firmware reports it)")
	create.Flags().StringVar(&o.APIURL, "api", "", "the tenant API's URL the laptop claims at (https)")
	create.Flags().StringVar(&expires, "expires", expires, "how long the token is accepted (e.g. 30d, 12h; at most 365d)")
	create.Flags().StringVar(&o.OEMFile, "out", "", "write the OEM bootstrap file here (0600) instead of printing it")
	_ = create.MarkFlagRequired("serial")
	_ = create.MarkFlagRequired("api")

	var asJSON bool
	list := &cobra.Command{
		Use:   "list --state DIR [--json]",
		Short: "List the bootstrap tokens (never the tokens themselves)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return bootstrapExitCode(bootstrap.List(cmd.Context(), stdio.Out, dir, asJSON))
		},
	}
	list.Flags().BoolVar(&asJSON, "json", false, "print a JSON array (bootstrap.ListEntry, version 1)")

	revoke := &cobra.Command{
		Use:   "revoke --state DIR ID",
		Short: "Revoke an unused bootstrap token by its id (from bootstrap list)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return bootstrapExitCode(bootstrap.Revoke(cmd.Context(), stdio.Out, dir, args[0]))
		},
	}
	cmd.AddCommand(create, list, revoke)
	return cmd
}

// bootstrapExitCode maps a missing state directory or token to
// cli.ExitNotFound.
func bootstrapExitCode(err error) error {
	if errors.Is(err, bootstrap.ErrNoState) || errors.Is(err, store.ErrNotFound) {
		return cli.WithCode(cli.ExitNotFound, err)
	}
	return err
}
