// Command kiwistack-enroll is what a person runs at the laptop: it finds the
// YubiKey, asks for PIN and touch, and (in later verbs) enrolls the laptop
// and signs admins' privileged operations. It holds flags and wiring only;
// the work is done by package enroll.
package main

import (
	"context"
	"log/slog"

	"github.com/kiwistack/endpoint/internal/cli"
	"github.com/spf13/cobra"
)

const short = "Enroll this laptop with a YubiKey, and manage admin YubiKeys"

func main() { cli.Exec("kiwistack-enroll", short, commands) }

// commands adds the enroller's subcommands.
func commands(root *cobra.Command, stdio cli.IO, logger **slog.Logger) {
	root.AddCommand(keysCmd(stdio, logger), enrollCmd(stdio, logger), fingerprintCmd(stdio), adminCmd(stdio, logger))
	root.AddCommand(installAgentCmd(stdio, logger))
}

// run runs the command tree with the given IO and arguments (tests).
func run(ctx context.Context, stdio cli.IO, args []string) int {
	return cli.Run(ctx, "kiwistack-enroll", short, stdio, args, commands)
}
