package main

import (
	"errors"
	"log/slog"

	"github.com/kiwistack/endpoint/internal/cli"
	"github.com/kiwistack/endpoint/server/auditlog"
	"github.com/kiwistack/endpoint/server/dev"
	"github.com/kiwistack/endpoint/server/store"
	"github.com/spf13/cobra"
)

// auditCmd is `kiwistack-api audit list|verify --state DIR` (server/auditlog).
func auditCmd(stdio cli.IO, _ **slog.Logger) *cobra.Command {
	var dir string
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "audit",
		Short: "Read and verify the tenant's hash-chained audit log in a dev state directory",
		Args:  cobra.NoArgs,
		RunE:  func(cmd *cobra.Command, _ []string) error { return cmd.Help() },
	}
	cmd.PersistentFlags().StringVar(&dir, "state", "", "the state directory of kiwistack-api dev")
	cmd.PersistentFlags().BoolVar(&asJSON, "json", false, "print JSON (version 1)")
	_ = cmd.MarkPersistentFlagRequired("state")
	var after int64
	var limit int
	list := &cobra.Command{
		Use:   "list --state DIR [--after SEQ] [--limit N] [--json]",
		Short: "Print audit entries in order",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return auditExitCode(auditlog.List(cmd.Context(), stdio.Out, dir, after, limit, asJSON))
		},
	}
	list.Flags().Int64Var(&after, "after", 0, "only entries with a sequence number above this")
	list.Flags().IntVar(&limit, "limit", 1000, "at most this many entries")
	verify := &cobra.Command{
		Use:   "verify --state DIR [--json]",
		Short: "Check the whole hash chain; exit 4 and name the first edited, removed or reordered entry",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return auditExitCode(auditlog.Verify(cmd.Context(), stdio.Out, dir, asJSON))
		},
	}
	cmd.AddCommand(list, verify)
	return cmd
}

// auditExitCode maps a broken chain to cli.ExitDenied and a missing state
// directory to cli.ExitNotFound.
func auditExitCode(err error) error {
	switch {
	case errors.Is(err, store.ErrAuditBroken):
		return cli.WithCode(cli.ExitDenied, err)
	case errors.Is(err, dev.ErrNoState):
		return cli.WithCode(cli.ExitNotFound, err)
	}
	return err
}
