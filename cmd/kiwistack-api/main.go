// Command kiwistack-api is the KiwiStack companion enrollment API of one
// tenant. It holds flags and wiring only; the work is done by feature
// packages.
package main

import (
	"log/slog"

	"github.com/kiwistack/endpoint/internal/cli"
	"github.com/spf13/cobra"
)

const short = "the KiwiStack companion enrollment API of one tenant"

func main() { cli.Exec("kiwistack-api", short, commands) }

// commands adds the API's subcommands.
func commands(root *cobra.Command, stdio cli.IO, logger **slog.Logger) {
	root.AddCommand(policyCmd(stdio, logger), devCmd(stdio, logger), rosterCmd(stdio, logger))
}
