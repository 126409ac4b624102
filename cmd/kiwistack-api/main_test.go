package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"strings"
	"testing"

	"github.com/spf13/cobra"

	"github.com/kiwistack/endpoint/internal/cli"
)

func TestLogFormatDefaultsToJSON(t *testing.T) {
	out, _, code := runAPI("--help")
	if code != cli.ExitOK || !strings.Contains(out, `log format: text or json (default "json")`) {
		t.Fatalf("exit %d, --help does not show the JSON default:\n%s", code, out)
	}

	// A line logged through the flags' logger, with and without the flag.
	for _, tc := range []struct {
		args []string
		json bool
	}{
		{[]string{"--log-level", "info", "probe"}, true},
		{[]string{"--log-level", "info", "--log-format", "text", "probe"}, false},
	} {
		var stdout, stderr bytes.Buffer
		stdio := cli.IO{In: strings.NewReader(""), Out: &stdout, Err: &stderr}
		code := cli.Run(context.Background(), "kiwistack-api", short, stdio, tc.args,
			func(root *cobra.Command, stdio cli.IO, logger **slog.Logger) {
				commands(root, stdio, logger)
				root.AddCommand(&cobra.Command{Use: "probe", RunE: func(*cobra.Command, []string) error {
					(*logger).Info("probe", "k", "v")
					return nil
				}})
			})
		if code != cli.ExitOK {
			t.Fatalf("%v: exit %d: %s", tc.args, code, stderr.String())
		}
		sc := bufio.NewScanner(&stderr)
		if !sc.Scan() {
			t.Fatalf("%v: nothing logged", tc.args)
		}
		var entry map[string]any
		err := json.Unmarshal(sc.Bytes(), &entry)
		if tc.json && (err != nil || entry["msg"] != "probe" || entry["k"] != "v" || entry["level"] != "INFO") {
			t.Errorf("%v: log line %q is not the JSON entry (%v)", tc.args, sc.Text(), err)
		}
		if !tc.json && err == nil {
			t.Errorf("%v: --log-format text logged JSON: %s", tc.args, sc.Text())
		}
	}
}
