// Package cli holds what the three KiwiStack command lines share: the root
// command with its --version flag, the --log-level and --log-format flags that
// build the slog logger, the documented exit codes, and the output writers
// that tests swap. It holds no feature logic: a command's RunE calls one
// function of a feature package.
package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/kiwistack/endpoint/version"
	"github.com/spf13/cobra"
)

// Exit codes shared by every KiwiStack binary, documented in docs/cli.md.
const (
	ExitOK       = 0 // success
	ExitFailure  = 1 // the operation failed; the message says why and what to do
	ExitUsage    = 2 // the command line was wrong
	ExitNotFound = 3 // the thing asked for (a YubiKey, a device) is not there
	ExitDenied   = 4 // authentication or verification failed (wrong PIN, bad signature, untrusted chain)
)

// ExitError carries an exit code with an error, for a command to choose how
// the process ends.
type ExitError struct {
	Code int
	Err  error
}

func (e *ExitError) Error() string { return e.Err.Error() }
func (e *ExitError) Unwrap() error { return e.Err }

// WithCode wraps err so that the process exits with code.
func WithCode(code int, err error) error {
	if err == nil {
		return nil
	}
	return &ExitError{Code: code, Err: err}
}

// IO is where a command writes. Tests replace it with buffers.
type IO struct {
	In  io.Reader
	Out io.Writer
	Err io.Writer
}

// StdIO returns the process's standard streams.
func StdIO() IO { return IO{In: os.Stdin, Out: os.Stdout, Err: os.Stderr} }

// Root builds a binary's root command: its name, one-line purpose, the
// --version flag printing version, commit and build date, and the logging
// flags. logger is set before any subcommand runs.
func Root(name, short string, stdio IO, logger **slog.Logger) *cobra.Command {
	var level, format string
	root := &cobra.Command{
		Use:           name,
		Short:         short,
		Version:       version.Get().String(),
		SilenceUsage:  true,
		SilenceErrors: true,
		Args:          cobra.NoArgs, // an unknown verb is an error, not help
		RunE:          func(cmd *cobra.Command, _ []string) error { return cmd.Help() },
		PersistentPreRunE: func(cmd *cobra.Command, _ []string) error {
			l, err := NewLogger(stdio.Err, level, format)
			if err != nil {
				return WithCode(ExitUsage, err)
			}
			*logger = l
			return nil
		},
	}
	root.SetVersionTemplate("{{.Name}} {{.Version}}\n")
	root.SetIn(stdio.In)
	root.SetOut(stdio.Out)
	root.SetErr(stdio.Err)
	root.PersistentFlags().StringVar(&level, "log-level", "warn", "log level: debug, info, warn or error")
	root.PersistentFlags().StringVar(&format, "log-format", "text", "log format: text or json")
	return root
}

// NewLogger builds the slog logger the flags ask for, writing to w.
func NewLogger(w io.Writer, level, format string) (*slog.Logger, error) {
	var lv slog.Level
	if err := lv.UnmarshalText([]byte(level)); err != nil {
		return nil, fmt.Errorf("--log-level %q: want debug, info, warn or error", level)
	}
	opts := &slog.HandlerOptions{Level: lv}
	switch strings.ToLower(format) {
	case "text":
		return slog.New(slog.NewTextHandler(w, opts)), nil
	case "json":
		return slog.New(slog.NewJSONHandler(w, opts)), nil
	default:
		return nil, fmt.Errorf("--log-format %q: want text or json", format)
	}
}

// Main runs root with the process's arguments and returns the exit code:
// errors are printed once, as "name: message", to stdio.Err.
func Main(ctx context.Context, root *cobra.Command, stdio IO) int {
	err := root.ExecuteContext(ctx)
	if err == nil {
		return ExitOK
	}
	fmt.Fprintf(stdio.Err, "%s: %v\n", root.Name(), err)
	var ee *ExitError
	if errors.As(err, &ee) {
		return ee.Code
	}
	if isUsageError(err) {
		return ExitUsage
	}
	return ExitFailure
}

// isUsageError reports whether cobra rejected the command line itself.
func isUsageError(err error) bool {
	msg := err.Error()
	for _, p := range []string{"unknown command", "unknown flag", "unknown shorthand flag", "accepts ", "requires at least", "invalid argument", "flag needs an argument", "required flag"} {
		if strings.Contains(msg, p) {
			return true
		}
	}
	return false
}

// Commands adds a binary's subcommands to its root command. logger points
// at the logger the flags build before any subcommand runs.
type Commands func(root *cobra.Command, stdio IO, logger **slog.Logger)

// Run builds the command tree of one binary and runs it with args,
// returning the exit code. Tests call it with buffers.
func Run(ctx context.Context, name, short string, stdio IO, args []string, commands Commands) int {
	logger := slog.New(slog.DiscardHandler)
	root := Root(name, short, stdio, &logger)
	commands(root, stdio, &logger)
	root.SetArgs(args)
	return Main(ctx, root, stdio)
}

// Exec is a binary's whole main: Run with the process's arguments and
// standard streams, cancelled by SIGINT or SIGTERM, then exit.
func Exec(name, short string, commands Commands) {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := Run(ctx, name, short, StdIO(), os.Args[1:], commands)
	stop()
	os.Exit(code)
}
