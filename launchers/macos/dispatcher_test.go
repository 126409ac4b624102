package macos

import (
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/kiwistack/endpoint/internal/golden"
	"github.com/kiwistack/endpoint/launchers/catalog"
	"github.com/kiwistack/endpoint/launchers/dispatch"
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
	if len(files) != 2 {
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
		{Browser: "Google Chrome"},
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

// Render writes the bundle's Info.plist (the bytes the package installs)
// and never its executable, the agent binary the package puts there: a
// render, and the reconciling that removes what left the set, cannot
// delete or replace it.
func TestDispatcherLeavesTheExecutable(t *testing.T) {
	_, files := renderDispatcher(t, Dispatcher{})
	for p := range files {
		if strings.HasPrefix(p, DispatcherBundle+"/Contents/MacOS") {
			t.Errorf("render writes %s", p)
		}
	}
	info, err := DispatcherInfoPlist()
	if err != nil {
		t.Fatal(err)
	}
	if string(info) != string(files[DispatcherBundle+"/Contents/Info.plist"]) {
		t.Error("the rendered Info.plist is not DispatcherInfoPlist's")
	}
}
