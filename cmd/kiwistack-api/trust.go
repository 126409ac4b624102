package main

import (
	"log/slog"

	"github.com/kiwistack/endpoint/internal/cli"
	"github.com/kiwistack/endpoint/server/roster"
	"github.com/spf13/cobra"
)

// trustCmd is `kiwistack-api trust add|list|remove --state DIR`
// (roster.AddTrust, roster.ListTrust, roster.RemoveTrust): the tenant's
// trust list of BYOC certificates and CA roots.
func trustCmd(stdio cli.IO, _ **slog.Logger) *cobra.Command {
	var dir string
	cmd := &cobra.Command{
		Use:   "trust",
		Short: "Manage the trust list (bring your own certificate) of a dev state directory",
		Args:  cobra.NoArgs,
		RunE:  func(cmd *cobra.Command, _ []string) error { return cmd.Help() },
	}
	cmd.PersistentFlags().StringVar(&dir, "state", "", "the state directory of kiwistack-api dev")
	_ = cmd.MarkPersistentFlagRequired("state")
	var note string
	add := &cobra.Command{
		Use:   "add --state DIR FILE.pem [--note TEXT]",
		Short: "Trust an administrator's certificate or a CA root as a signer",
		Long: "A CA certificate (CA basic constraint, keyCertSign) becomes a ca entry: the certificates it issues with\n" +
			"O = the tenant and OU = a role of the policy sign. Any other certificate becomes a certificate entry: it\n" +
			"must allow digitalSignature and clientAuth, name the tenant in O and a role in OU, and signs with the\n" +
			"pseudo-serial printed here. Each add writes one audit entry.",
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return exitCode(roster.AddTrust(cmd.Context(), stdio.Out, dir, args[0], note))
		},
	}
	add.Flags().StringVar(&note, "note", "", "free text kept with the entry (who, why)")
	var asJSON bool
	list := &cobra.Command{
		Use:   "list --state DIR [--json]",
		Short: "List the trust list",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return exitCode(roster.ListTrust(cmd.Context(), stdio.Out, dir, asJSON))
		},
	}
	list.Flags().BoolVar(&asJSON, "json", false, "print a JSON array (roster.TrustListEntry, version 1)")
	remove := &cobra.Command{
		Use:   "remove --state DIR ID",
		Short: "Remove an entry: the signers it admitted are burned at once",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return exitCode(roster.RemoveTrust(cmd.Context(), stdio.Out, dir, args[0]))
		},
	}
	cmd.AddCommand(add, list, remove)
	return cmd
}
