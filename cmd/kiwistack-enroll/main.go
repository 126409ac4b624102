// Command kiwistack-enroll is what a person runs at the laptop: it finds the
// YubiKey, asks for PIN and touch, and (in later verbs) enrolls the laptop
// and signs admins' privileged operations. It holds flags and wiring only;
// the work is done by package enroll.
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
	os.Exit(run(ctx, cli.StdIO(), os.Args[1:]))
}

// run builds the command tree and runs it; tests call it with their own IO.
func run(ctx context.Context, stdio cli.IO, args []string) int {
	logger := slog.New(slog.DiscardHandler)
	root := cli.Root("kiwistack-enroll", "Enroll this laptop with a YubiKey, and manage admin YubiKeys", stdio, &logger)
	root.AddCommand(keysCmd(stdio, &logger))
	root.SetArgs(args)
	return cli.Main(ctx, root, stdio)
}
