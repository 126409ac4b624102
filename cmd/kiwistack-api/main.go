// Command kiwistack-api is the KiwiStack companion enrollment API of one tenant.
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
	root := cli.Root("kiwistack-api", "the KiwiStack companion enrollment API of one tenant", stdio, &logger)
	os.Exit(cli.Main(ctx, root, stdio))
}
