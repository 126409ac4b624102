package main

import (
	"errors"
	"fmt"
	"log/slog"
	"strconv"

	"github.com/kiwistack/endpoint/internal/cli"
	"github.com/kiwistack/endpoint/server/roster"
	"github.com/kiwistack/endpoint/server/store"
	"github.com/spf13/cobra"
)

// rosterCmd is `kiwistack-api roster add|burn|list --state DIR`
// (roster.Add, roster.Burn, roster.List).
func rosterCmd(stdio cli.IO, _ **slog.Logger) *cobra.Command {
	var dir string
	cmd := &cobra.Command{
		Use:   "roster",
		Short: "Manage the roster of administrator YubiKeys of a dev state directory",
		Args:  cobra.NoArgs,
		RunE:  func(cmd *cobra.Command, _ []string) error { return cmd.Help() },
	}
	cmd.PersistentFlags().StringVar(&dir, "state", "", "the state directory of kiwistack-api dev")
	_ = cmd.MarkPersistentFlagRequired("state")
	add := &cobra.Command{
		Use:   "add --state DIR FILE.yaml",
		Short: "Check and add the roster entries kiwistack-enroll keys provision printed",
		Long: "Each entry's certificate must chain to this tenant's intermediate, its key must match public_key_sha256,\n" +
			"its OU must be the role and its O the tenant. Nothing is added unless every entry passes.",
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return exitCode(roster.Add(cmd.Context(), stdio.Out, dir, args[0]))
		},
	}
	burn := &cobra.Command{
		Use:   "burn --state DIR SERIAL",
		Short: "Declare a YubiKey lost: it signs nothing from now on",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			serial, err := strconv.ParseUint(args[0], 10, 32)
			if err != nil || serial == 0 {
				return cli.WithCode(cli.ExitUsage, fmt.Errorf("serial %q: want the YubiKey's decimal serial number", args[0]))
			}
			return exitCode(roster.Burn(cmd.Context(), stdio.Out, dir, uint32(serial)))
		},
	}
	var asJSON bool
	list := &cobra.Command{
		Use:   "list --state DIR [--json]",
		Short: "List the roster",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return exitCode(roster.List(cmd.Context(), stdio.Out, dir, asJSON))
		},
	}
	list.Flags().BoolVar(&asJSON, "json", false, "print a JSON array (roster.ListEntry, version 1)")
	cmd.AddCommand(add, burn, list)
	return cmd
}

// exitCode maps a missing state directory or serial to cli.ExitNotFound.
func exitCode(err error) error {
	if errors.Is(err, roster.ErrNoState) || errors.Is(err, store.ErrNotFound) {
		return cli.WithCode(cli.ExitNotFound, err)
	}
	return err
}
