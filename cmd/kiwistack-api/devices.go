package main

import (
	"errors"
	"log/slog"

	"github.com/kiwistack/endpoint/internal/cli"
	"github.com/kiwistack/endpoint/server/devices"
	"github.com/kiwistack/endpoint/server/store"
	"github.com/spf13/cobra"
)

// devicesCmd is `kiwistack-api devices list|allow-reenroll --state DIR`
// (devices.List, devices.AllowReenroll).
func devicesCmd(stdio cli.IO, _ **slog.Logger) *cobra.Command {
	var dir string
	cmd := &cobra.Command{
		Use:   "devices",
		Short: "List the enrolled devices of a dev state directory, allow re-enrollments and revoke devices",
		Args:  cobra.NoArgs,
		RunE:  func(cmd *cobra.Command, _ []string) error { return cmd.Help() },
	}
	cmd.PersistentFlags().StringVar(&dir, "state", "", "the state directory of kiwistack-api dev")
	_ = cmd.MarkPersistentFlagRequired("state")
	var asJSON bool
	list := &cobra.Command{
		Use:   "list --state DIR [--json]",
		Short: "List every device record, replaced ones included",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return devicesExitCode(devices.List(cmd.Context(), stdio.Out, dir, asJSON))
		},
	}
	list.Flags().BoolVar(&asJSON, "json", false, "print a JSON array (devices.ListEntry, version 1)")
	var window = devices.DefaultAllowance
	allow := &cobra.Command{
		Use:   "allow-reenroll --state DIR DEVICE-ID [--for 24h]",
		Short: "Allow a laptop to enroll again (a new device key replaces its record)",
		Long: "The next enrollment of the device's hardware fingerprint within --for (at most 168h) replaces the\n" +
			"device record and revokes its certificates. The allowance is written to the audit log with\n" +
			"actor 0, the operator at the server; allowing again replaces an earlier allowance.",
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if window <= 0 || window > devices.MaxAllowance {
				return cli.WithCode(cli.ExitUsage, errors.New("--for: want a duration above 0 and at most 168h"))
			}
			return devicesExitCode(devices.AllowReenroll(cmd.Context(), stdio.Out, dir, args[0], window))
		},
	}
	allow.Flags().DurationVar(&window, "for", devices.DefaultAllowance, "how long the allowance lasts (at most 168h)")
	var reason string
	revoke := &cobra.Command{
		Use:   "revoke --state DIR DEVICE-ID [--reason TEXT]",
		Short: "Revoke a device: every certificate at step-ca, the device record, its tunnel peer",
		Long: "Marks the device revoked in the store with one audit entry (actor 0, the operator at the server),\n" +
			"then revokes every certificate of it at step-ca (the running dev tenant's, or the CA in DIR). The hub\n" +
			"of a running dev tenant removes the peer with the next API request, within 30 s at the latest. The\n" +
			"agent stops renewing, takes the tunnel down and reports revoked. Running it again retries step-ca.",
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return devicesExitCode(devices.Revoke(cmd.Context(), stdio.Out, dir, args[0], reason))
		},
	}
	revoke.Flags().StringVar(&reason, "reason", "", "why, for step-ca and the audit log")
	cmd.AddCommand(list, allow, revoke)
	return cmd
}

// devicesExitCode maps a missing state directory or device to
// cli.ExitNotFound.
func devicesExitCode(err error) error {
	if errors.Is(err, devices.ErrNoState) || errors.Is(err, store.ErrNotFound) {
		return cli.WithCode(cli.ExitNotFound, err)
	}
	return err
}
