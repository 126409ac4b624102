package main

import (
	"errors"
	"log/slog"

	"github.com/kiwistack/endpoint/enroll/apiclient"
	"github.com/kiwistack/endpoint/internal/cli"
	"github.com/kiwistack/endpoint/server/dev"
	"github.com/spf13/cobra"
)

// operatorCmd is `kiwistack-api operator sign --state DIR ID`
// (dev.OperatorSign).
func operatorCmd(stdio cli.IO, _ **slog.Logger) *cobra.Command {
	var dir, apiURL string
	cmd := &cobra.Command{
		Use:   "operator",
		Short: "Act as the KiwiStack operator of a dev state directory",
		Args:  cobra.NoArgs,
		RunE:  func(cmd *cobra.Command, _ []string) error { return cmd.Help() },
	}
	sign := &cobra.Command{
		Use:   "sign --state DIR [--api URL] ID",
		Short: "Co-sign an operation as the dev operator (change_jurisdiction, tenant_delete)",
		Long: "kiwistack-api dev makes a KiwiStack operator trust anchor and one software operator key in its state\n" +
			"directory (operator/), once. This command co-signs the operation ID with that key against the running dev\n" +
			"tenant. Production operators sign with a YubiKey under KiwiStack's operator root instead.",
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			err := dev.OperatorSign(cmd.Context(), stdio.Out, dir, apiURL, args[0])
			var ae *apiclient.Error
			if errors.As(err, &ae) && ae.Status >= 400 && ae.Status < 500 {
				return cli.WithCode(cli.ExitDenied, err)
			}
			return err
		},
	}
	sign.Flags().StringVar(&dir, "state", "", "the state directory of kiwistack-api dev")
	sign.Flags().StringVar(&apiURL, "api", "https://"+dev.DefaultListen, "the dev tenant's API URL")
	_ = sign.MarkFlagRequired("state")
	cmd.AddCommand(sign)
	return cmd
}
