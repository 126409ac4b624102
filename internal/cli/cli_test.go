package cli

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"strings"
	"testing"

	"github.com/spf13/cobra"
)

func TestRunExitCodes(t *testing.T) {
	commands := func(root *cobra.Command, stdio IO, logger **slog.Logger) {
		root.AddCommand(&cobra.Command{Use: "ok", RunE: func(*cobra.Command, []string) error { return nil }})
		root.AddCommand(&cobra.Command{Use: "fail", RunE: func(*cobra.Command, []string) error { return errors.New("it broke") }})
		root.AddCommand(&cobra.Command{Use: "missing", RunE: func(*cobra.Command, []string) error {
			return WithCode(ExitNotFound, errors.New("no such key"))
		}})
		root.AddCommand(&cobra.Command{Use: "log", RunE: func(*cobra.Command, []string) error {
			(*logger).Info("hello", "k", "v")
			return nil
		}})
	}
	for _, tc := range []struct {
		args      []string
		code      int
		stderrHas string
		stdoutHas string
	}{
		{[]string{"ok"}, ExitOK, "", ""},
		{[]string{"fail"}, ExitFailure, "tool: it broke", ""},
		{[]string{"missing"}, ExitNotFound, "tool: no such key", ""},
		{[]string{"nope"}, ExitUsage, "unknown command", ""},
		{[]string{"ok", "--bogus"}, ExitUsage, "unknown flag", ""},
		{[]string{"--log-level", "loud", "ok"}, ExitUsage, "--log-level", ""},
		{[]string{"--log-format", "xml", "ok"}, ExitUsage, "--log-format", ""},
		{[]string{"--log-level", "info", "--log-format", "json", "log"}, ExitOK, `"msg":"hello"`, ""},
		{[]string{"--version"}, ExitOK, "", "tool "},
		{nil, ExitOK, "", "Usage:"},
	} {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			var out, errb bytes.Buffer
			code := Run(context.Background(), "tool", "a test tool", IO{In: strings.NewReader(""), Out: &out, Err: &errb}, tc.args, commands)
			if code != tc.code || !strings.Contains(errb.String(), tc.stderrHas) || !strings.Contains(out.String(), tc.stdoutHas) {
				t.Errorf("exit %d (want %d)\nstdout %q (want %q)\nstderr %q (want %q)", code, tc.code, out.String(), tc.stdoutHas, errb.String(), tc.stderrHas)
			}
		})
	}
}
