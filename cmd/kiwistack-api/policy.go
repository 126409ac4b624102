package main

import (
	"errors"
	"io/fs"
	"log/slog"

	"github.com/kiwistack/endpoint/internal/cli"
	"github.com/kiwistack/endpoint/server/policy"
	"github.com/spf13/cobra"
)

// policyCmd is `kiwistack-api policy check FILE` (policy.CheckFile) and
// `kiwistack-api policy default [--tenant SLUG]` (policy.WriteDefault).
func policyCmd(stdio cli.IO, _ **slog.Logger) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "policy",
		Short: "Check a tenant's authorization policy (policies/authorization.yaml) or print the default one",
		Args:  cobra.NoArgs,
		RunE:  func(cmd *cobra.Command, _ []string) error { return cmd.Help() },
	}
	check := &cobra.Command{
		Use:   "check FILE",
		Short: "Validate a policy file: exit 0, or 1 with FILE:LINE:COLUMN: key: problem for every problem",
		Long: "Validates a policies/authorization.yaml (docs/policy.md): syntax, unknown or duplicate keys, types,\n" +
			"roles, windows and delays, the roster; then, if the file has a roster, that its unburned keys can\n" +
			"still sign every operation (no lock-out). Exit 0 when valid, 1 with the problems, 3 when FILE is missing.",
		Args: cobra.ExactArgs(1),
		RunE: func(_ *cobra.Command, args []string) error {
			err := policy.CheckFile(stdio.Out, args[0])
			if errors.Is(err, fs.ErrNotExist) {
				return cli.WithCode(cli.ExitNotFound, err)
			}
			return err
		},
	}
	var tenant string
	def := &cobra.Command{
		Use:   "default [--tenant SLUG]",
		Short: "Print the default policy of a new tenant (every operation of seed table Z1, no roster)",
		Args:  cobra.NoArgs,
		RunE: func(_ *cobra.Command, _ []string) error {
			if err := policy.WriteDefault(stdio.Out, tenant); err != nil {
				return cli.WithCode(cli.ExitUsage, err)
			}
			return nil
		},
	}
	def.Flags().StringVar(&tenant, "tenant", "", "the tenant slug to write into the policy (e.g. acme-corp)")
	cmd.AddCommand(check, def)
	return cmd
}
