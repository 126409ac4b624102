package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"runtime"
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
	code := cli.Run(context.Background(), "kiwistack-agent", short, stdio, args, commands)
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

// --os darwin needs no browser on the machine: the bundles find Chrome or
// Chromium when they start.
func TestRenderDarwin(t *testing.T) {
	root := t.TempDir()
	args := []string{"render", "--os", "darwin", "--tenant", "acme", "--root", root}
	out, errOut, code := runAgent(args...)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	for _, want := range []string{"macOS app bundles", "tenant acme (subdomain routing",
		"wrote     Applications/KiwiStack/Meet.app/Contents/MacOS/kiwistack-meet",
		"wrote     Library/Managed Preferences/org.chromium.Chromium.plist",
		"wrote     Library/Application Support/KiwiStack/profiles/io.kiwistack.acme.browser-policy.mobileconfig",
		"Library/Application Support/KiwiStack/launchers/darwin.json"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	if st, err := os.Stat(filepath.Join(root, "Applications/KiwiStack/Wiki.app/Contents/MacOS/kiwistack-wiki")); err != nil || st.Mode().Perm() != 0o755 {
		t.Errorf("wiki wrapper: %v", err)
	}
	if out, _, code := runAgent(args...); code != 0 || !strings.Contains(out, "0 written") {
		t.Errorf("second run: exit %d\n%s", code, out)
	}
}

// --os windows writes the shortcuts, icons and the .reg file, and says the
// registry was not touched; --registry needs Windows.
func TestRenderWindows(t *testing.T) {
	root := t.TempDir()
	args := []string{"render", "--os", "windows", "--tenant", "acme", "--routing", "path", "--root", root}
	out, errOut, code := runAgent(args...)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	for _, want := range []string{`running C:\Program Files\Google\Chrome\Application\chrome.exe`, "tenant acme (path routing",
		"wrote     ProgramData/Microsoft/Windows/Start Menu/Programs/KiwiStack/Meshjects.lnk",
		"wrote     Users/Public/Desktop/Mail · Calendar · Contacts · Tasks.lnk",
		"wrote     Program Files/KiwiStack/icons/kiwistack-wiki.ico",
		"wrote     ProgramData/KiwiStack/launchers/kiwistack.reg",
		"wrote     ProgramData/KiwiStack/launchers/DefaultAssociations.xml",
		"dism /Online /Import-DefaultAppAssociations:",
		"The registry was not touched"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	if out, _, code := runAgent(args...); code != 0 || !strings.Contains(out, "0 written") {
		t.Errorf("second run: exit %d\n%s", code, out)
	}
	if _, errOut, code := runAgent(append(args, "--registry")...); runtime.GOOS != "windows" && (code != cli.ExitUsage || !strings.Contains(errOut, "only on Windows")) {
		t.Errorf("--registry off Windows: exit %d: %s", code, errOut)
	}
	if _, errOut, code := runAgent("render", "--os", "windows", "--tenant", "acme", "--root", root, "--browser", "chrome.exe"); code == 0 {
		t.Errorf("relative Windows browser accepted: %s", errOut)
	}
	if _, errOut, code := runAgent("render", "--os", "darwin", "--tenant", "acme", "--root", t.TempDir(), "--browser", "/usr/bin/chromium"); code == 0 || !strings.Contains(errOut, "does not apply to macOS") {
		t.Errorf("--browser with darwin: exit %d: %s", code, errOut)
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
		{[]string{"render", "--os", "plan9", "--tenant", "acme", "--root", root}, cli.ExitUsage, "unsupported OS"},
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
	if _, errOut, code := runAgent("dispatch", "--tenant", "acme", "https://example.com/"); code != cli.ExitUsage || !strings.Contains(errOut, "go with --explain") {
		t.Errorf("catalog flags without --explain: exit %d %s", code, errOut)
	}
	missing := filepath.Join(t.TempDir(), "dispatch.json")
	if _, errOut, code := runAgent("dispatch", "--state", missing, "https://example.com/"); code != cli.ExitNotFound || !strings.Contains(errOut, "render writes it") {
		t.Errorf("without state: exit %d %s", code, errOut)
	}
	if _, errOut, code := runAgent("dispatch", "--explain", "--state", missing, "https://example.com/"); code != cli.ExitNotFound {
		t.Errorf("explain without state: exit %d %s", code, errOut)
	}
	if _, _, code := runAgent("dispatch", "--explain", "--tenant", "acme"); code != cli.ExitUsage {
		t.Errorf("without URL: exit %d", code)
	}
}
