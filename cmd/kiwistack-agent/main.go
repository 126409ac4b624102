// Command kiwistack-agent is the resident KiwiStack daemon: device certificate, tunnel, launchers and commands.
// It holds flags and wiring only; the work is done by feature packages.
package main

import (
	"context"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/kiwistack/endpoint/internal/cli"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	stdio := cli.StdIO()
	logger := slog.New(slog.DiscardHandler)
	root := cli.Root("kiwistack-agent", "the resident KiwiStack daemon: device certificate, tunnel, launchers and commands", stdio, &logger)
	root.AddCommand(renderCmd(stdio, &logger))
	root.AddCommand(dispatchCmd(stdio, &logger))
	os.Exit(cli.Main(ctx, root, stdio))
}
