package main

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/kiwistack/endpoint/internal/cli"
	"github.com/kiwistack/endpoint/launchers/catalog"
	"github.com/kiwistack/endpoint/launchers/dispatch/dispatchjson"
)

// runAgent runs the agent's command tree as main builds it, with buffers.
func runAgent(args ...string) (string, string, int) {
	var out, errb bytes.Buffer
	stdio := cli.IO{In: strings.NewReader(""), Out: &out, Err: &errb}
	logger := slog.New(slog.DiscardHandler)
	root := cli.Root("kiwistack-agent", "test", stdio, &logger)
	root.AddCommand(renderCmd(stdio, &logger))
	root.AddCommand(dispatchCmd(stdio, &logger))
	root.SetArgs(args)
	code := cli.Main(context.Background(), root, stdio)
	return out.String(), errb.String(), code
}

func TestRenderLinux(t *testing.T) {
	root := t.TempDir()
	args := []string{"render", "--os", "linux", "--tenant", "acme", "--routing", "path", "--root", root, "--browser", "/usr/bin/chromium"}
	out, errOut, code := runAgent(args...)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	for _, want := range []string{"tenant acme (path routing", "wrote     usr/share/applications/kiwistack-mail.desktop",
		"wrote     usr/share/icons/hicolor/512x512/apps/kiwistack-notes.png", "wrote     etc/opt/chrome/policies/managed/kiwistack.json",
		"wrote     etc/kiwistack/element-desktop/config.json", "0 unchanged, 0 removed"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	b, err := os.ReadFile(filepath.Join(root, "usr/share/applications/kiwistack-mail.desktop"))
	if err != nil || !bytes.Contains(b, []byte("Exec=/usr/bin/chromium --app=https://od.acme.kiwistack.io/mail/ --profile-directory=Work")) {
		t.Errorf("mail entry: %v\n%s", err, b)
	}
	out, _, code = runAgent(args...)
	if code != 0 || !strings.Contains(out, "0 written") {
		t.Errorf("second run: exit %d\n%s", code, out)
	}
}

func TestRenderCatalogFile(t *testing.T) {
	c, _ := catalog.Defaults("acme", catalog.Subdomain)
	c.Launchers = c.Launchers[:1]
	b, _ := json.Marshal(c)
	file := filepath.Join(t.TempDir(), "catalog.json")
	if err := os.WriteFile(file, b, 0o644); err != nil {
		t.Fatal(err)
	}
	root := t.TempDir()
	out, errOut, code := runAgent("render", "--catalog", file, "--root", root, "--browser", "/usr/bin/chromium")
	if code != 0 || !strings.Contains(out, "kiwistack-mail.desktop") || strings.Contains(out, "kiwistack-wiki") {
		t.Errorf("exit %d: %s\n%s", code, errOut, out)
	}
}

func TestRenderErrors(t *testing.T) {
	root := t.TempDir()
	for _, tc := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"render", "--os", "darwin", "--tenant", "acme", "--root", root}, cli.ExitUsage, "unsupported OS"},
		{[]string{"render", "--tenant", "ACME", "--root", root, "--browser", "/usr/bin/chromium"}, cli.ExitUsage, "tenant slug"},
		{[]string{"render", "--tenant", "acme", "--routing", "query", "--root", root}, cli.ExitUsage, "routing"},
		{[]string{"render", "--tenant", "acme"}, cli.ExitUsage, "required flag"},
		{[]string{"render", "--tenant", "acme", "--root", root, "--browser", "chromium"}, cli.ExitFailure, "absolute path"},
		{[]string{"render", "--catalog", "/nonexistent.json", "--root", root}, cli.ExitFailure, "opening the catalog"},
	} {
		_, errOut, code := runAgent(tc.args...)
		if code != tc.code || !strings.Contains(errOut, tc.want) {
			t.Errorf("%q: exit %d (want %d): %s", tc.args, code, tc.code, errOut)
		}
	}
}

func TestDispatchExplain(t *testing.T) {
	base := []string{"dispatch", "--explain", "--tenant", "acme", "--browser", "/usr/bin/chromium", "--previous-browser", "/usr/bin/firefox"}
	out, errOut, code := runAgent(append(base, "https://MAIL.od.acme.kiwistack.io/appsuite/")...)
	if code != 0 || !strings.Contains(out, "opens in the mail launcher's app window") || !strings.Contains(out, `"--app=https://mail.od.acme.kiwistack.io/appsuite/"`) {
		t.Errorf("exit %d: %s\n%s", code, errOut, out)
	}
	out, _, code = runAgent(append(base, "--json", "https://mail.od.acme.kiwistack.io.evil.com/")...)
	var e dispatchjson.Explain
	if code != 0 || json.Unmarshal([]byte(out), &e) != nil || e.Schema != dispatchjson.SchemaExplain || e.Target != "previous-browser" ||
		e.Reason != "other-host" || len(e.Argv) != 2 || e.Argv[0] != "/usr/bin/firefox" {
		t.Errorf("--json: exit %d\n%s", code, out)
	}
	if _, errOut, code := runAgent("dispatch", "--tenant", "acme", "https://example.com/"); code != cli.ExitUsage || !strings.Contains(errOut, "only --explain") {
		t.Errorf("without --explain: exit %d %s", code, errOut)
	}
	if _, _, code := runAgent("dispatch", "--explain", "--tenant", "acme"); code != cli.ExitUsage {
		t.Errorf("without URL: exit %d", code)
	}
}
