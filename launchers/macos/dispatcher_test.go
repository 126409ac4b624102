package macos

import (
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/kiwistack/endpoint/launchers/catalog"
	"github.com/kiwistack/endpoint/launchers/dispatch"
	"github.com/kiwistack/endpoint/launchers/internal/golden"
	"github.com/kiwistack/endpoint/launchers/internal/realtool"
	"howett.net/plist"
)

func renderDispatcher(t *testing.T, d Dispatcher) (*catalog.Catalog, map[string][]byte) {
	t.Helper()
	c, err := catalog.Defaults("acme", catalog.Subdomain)
	if err != nil {
		t.Fatal(err)
	}
	set, err := RenderDispatcher(c, d)
	if err != nil {
		t.Fatal(err)
	}
	files := map[string][]byte{}
	for _, f := range set {
		files[f.Path] = f.Data
	}
	return c, files
}

// The dispatcher's bundle and state are golden files under
// testdata/dispatcher/.
func TestDispatcherGolden(t *testing.T) {
	_, files := renderDispatcher(t, Dispatcher{})
	if len(files) != 3 {
		t.Errorf("%d files", len(files))
	}
	for p, data := range files {
		golden.Check(t, filepath.Join("testdata/dispatcher", filepath.FromSlash(p)), p, data, *update)
	}
}

// Info.plist, as plistutil reads it, declares the http and https handler
// macOS lists as a browser: URL types, an NSApplication (whose Apple
// Events carry the URL), no Dock icon.
func TestDispatcherInfoPlist(t *testing.T) {
	_, files := renderDispatcher(t, Dispatcher{})
	var info map[string]any
	if _, err := plist.Unmarshal(realtool.PlistRoundTrip(t, files[DispatcherBundle+"/Contents/Info.plist"]), &info); err != nil {
		t.Fatal(err)
	}
	want := map[string]any{
		"CFBundleIdentifier": DispatcherID, "CFBundleName": DispatcherName, "CFBundleExecutable": DispatcherExecutable,
		"CFBundlePackageType": "APPL", "LSUIElement": true, "NSPrincipalClass": "NSApplication", "LSMinimumSystemVersion": "14.0",
	}
	for k, v := range want {
		if info[k] != v {
			t.Errorf("%s = %v, want %v", k, info[k], v)
		}
	}
	types, _ := info["CFBundleURLTypes"].([]any)
	if len(types) != 1 {
		t.Fatalf("CFBundleURLTypes: %v", info["CFBundleURLTypes"])
	}
	ut := types[0].(map[string]any)
	if !reflect.DeepEqual(ut["CFBundleURLSchemes"], []any{"http", "https"}) || ut["LSHandlerRank"] != "Alternate" ||
		ut["CFBundleTypeRole"] != "Viewer" || ut["CFBundleURLName"] != DispatcherID+".url" {
		t.Errorf("URL type: %v", ut)
	}
	if _, ok := info["CFBundleIconFile"]; ok {
		t.Errorf("an icon file that is not there: %v", info["CFBundleIconFile"])
	}
}

// The state is the one the agent's dispatcher reads: Chrome for app
// windows, Safari through LaunchServices for the rest.
func TestDispatcherState(t *testing.T) {
	_, files := renderDispatcher(t, Dispatcher{Previous: "org.mozilla.firefox"})
	st, err := dispatch.ParseState(files[DispatchState])
	if err != nil {
		t.Fatal(err)
	}
	if st.Browser != "/Applications/Google Chrome.app/Contents/MacOS/Google Chrome" ||
		!reflect.DeepEqual(st.Previous, []string{"/usr/bin/open", "-b", "org.mozilla.firefox"}) {
		t.Errorf("state: %+v", st)
	}
	c, _ := catalog.Defaults("acme", catalog.Subdomain)
	for _, d := range []Dispatcher{
		{Previous: "io.kiwistack.dispatcher"}, {Previous: "IO.KiwiStack.launcher.mail"}, {Previous: "com.apple.Safari;rm"},
		{Agent: "kiwistack-agent"}, {StateFile: "dispatch.json"}, {Agent: "/opt/$(id)/kiwistack-agent"}, {StateFile: "/tmp/it's"},
	} {
		if _, err := RenderDispatcher(c, d); err == nil {
			t.Errorf("%+v accepted", d)
		}
	}
	c.Launcher("wiki").Name = "kiwistack"
	if _, err := RenderDispatcher(c, Dispatcher{}); err == nil || !strings.Contains(err.Error(), "dispatcher's") {
		t.Errorf("a launcher named like the dispatcher: %v", err)
	}
}

// The bundle's executable passes shellcheck and, run by the real sh with
// a URL full of shell syntax among its arguments, execs the agent with the
// rendered arguments only: the URL never reaches the shell or the agent
// through it (macOS sends it as an Apple Event to the exec'd agent).
func TestDispatcherExecutable(t *testing.T) {
	bin := t.TempDir()
	agent := filepath.Join(bin, "kiwistack agent")
	if err := os.WriteFile(agent, []byte("#!/bin/sh\nprintf '%s\\n' \"$@\" > \"$RECORD\"\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	_, files := renderDispatcher(t, Dispatcher{Agent: agent})
	root := t.TempDir()
	exe := filepath.Join(root, filepath.FromSlash(DispatcherBundle), "Contents/MacOS", DispatcherExecutable)
	if err := os.MkdirAll(filepath.Dir(exe), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(exe, files[DispatcherBundle+"/Contents/MacOS/"+DispatcherExecutable], 0o755); err != nil {
		t.Fatal(err)
	}
	if out, err := realtool.Run(t, "shellcheck", "shellcheck", "--shell=sh", "--severity=style", exe); err != nil {
		t.Errorf("shellcheck: %v\n%s", err, out)
	}
	record := filepath.Join(bin, "argv")
	cmd := exec.Command(realtool.Require(t, "sh", "dash"), exe, "https://example.com/$(touch PWNED)`touch PWNED`;touch PWNED", "-psn_0_1234")
	cmd.Dir = bin
	cmd.Env = []string{"PATH=/usr/bin:/bin", "RECORD=" + record}
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	got, _ := os.ReadFile(record)
	if want := "dispatch\n--apple-events\n--state\n/" + DispatchState + "\n"; string(got) != want {
		t.Errorf("the agent got\n%s\nwant\n%s", got, want)
	}
	if _, err := os.Stat(filepath.Join(bin, "PWNED")); !os.IsNotExist(err) {
		t.Errorf("an argument ran a command")
	}
	script := string(files[DispatcherBundle+"/Contents/MacOS/"+DispatcherExecutable])
	for _, bad := range []string{"$@", "$*", "$1", "eval"} {
		if strings.Contains(script, bad) {
			t.Errorf("the executable uses %s:\n%s", bad, script)
		}
	}
}
