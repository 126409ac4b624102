// Command kiwistack-agent is the resident KiwiStack daemon: device
// certificate, tunnel, launchers and commands. It holds flags and wiring
// only; the work is done by feature packages.
package main

import (
	"log/slog"
	"os"

	"github.com/kiwistack/endpoint/internal/cli"
	"github.com/spf13/cobra"
)

const short = "the resident KiwiStack daemon: device certificate, tunnel, launchers and commands"

func main() {
	// On macOS, LaunchServices starting the agent as KiwiStack.app's
	// executable means the dispatcher app (bundle_darwin.go).
	os.Args = append(os.Args[:1], launchArgs(os.Args[1:])...)
	cli.Exec("kiwistack-agent", short, commands)
}

// commands adds the agent's subcommands.
func commands(root *cobra.Command, stdio cli.IO, logger **slog.Logger) {
	root.AddCommand(renderCmd(stdio, logger))
	root.AddCommand(dispatchCmd(stdio, logger))
	root.AddCommand(serviceCmds(stdio, logger)...)
	root.AddCommand(statusCmd(stdio, logger))
}
