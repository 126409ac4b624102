package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"

	"github.com/kiwistack/endpoint/agent/daemon"
	"github.com/kiwistack/endpoint/agent/status"
	"github.com/kiwistack/endpoint/internal/cli"
	"github.com/kiwistack/endpoint/platform/localsock"
	"github.com/spf13/cobra"
)

// statusCmd is `kiwistack-agent status [--json]`: asks the running agent
// over its local socket.
func statusCmd(stdio cli.IO, _ **slog.Logger) *cobra.Command {
	var f daemonFlags
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "status [--json]",
		Short: "Show the running agent's status: enrollment, certificate, next renewal, tunnel, controllers",
		Long: "Ask the running agent over its local socket (root and the admin group only). --json prints the\n" +
			"versioned status document (schema version 1, see docs/agent.md). Exits 3 when no agent runs.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			sock := f.socket
			if sock == "" {
				sock = daemon.DefaultSocket(f.root)
			}
			c := status.NewClient(func(ctx context.Context) (net.Conn, error) { return localsock.Dial(ctx, sock) })
			s, err := c.Get(cmd.Context())
			if errors.Is(err, localsock.ErrNotRunning) {
				return cli.WithCode(cli.ExitNotFound, fmt.Errorf("%w (nothing answers on %s); start it with `kiwistack-agent start`", errNotRunning, sock))
			}
			if err != nil {
				return err
			}
			if asJSON {
				enc := json.NewEncoder(stdio.Out)
				enc.SetIndent("", "  ")
				return enc.Encode(s)
			}
			return status.WriteText(stdio.Out, s)
		},
	}
	f.add(cmd)
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the status document as JSON")
	return cmd
}
