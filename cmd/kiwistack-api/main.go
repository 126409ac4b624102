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

// defaultLogFormat is the API's --log-format default: a server's logs go
// to a collector, so JSON (the enroll and agent CLIs keep text).
const defaultLogFormat = "json"

// commands sets the API's logging defaults and adds its subcommands.
func commands(root *cobra.Command, stdio cli.IO, logger **slog.Logger) {
	if f := root.PersistentFlags().Lookup("log-format"); f != nil {
		_ = f.Value.Set(defaultLogFormat)
		f.DefValue = defaultLogFormat
	}
	root.AddCommand(policyCmd(stdio, logger), devCmd(stdio, logger), rosterCmd(stdio, logger), devicesCmd(stdio, logger),
		bootstrapCmd(stdio, logger), serveCmd(stdio, logger), operatorCmd(stdio, logger), auditCmd(stdio, logger),
		trustCmd(stdio, logger), mspCmd(stdio), intermediateCmd(stdio))
}
