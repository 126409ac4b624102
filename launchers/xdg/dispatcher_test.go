package xdg

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/kiwistack/endpoint/internal/golden"
	"github.com/kiwistack/endpoint/launchers/catalog"
	"github.com/kiwistack/endpoint/launchers/desktopentry"
	"github.com/kiwistack/endpoint/launchers/dispatch"
	"github.com/kiwistack/endpoint/launchers/internal/realtool"
	"github.com/kiwistack/endpoint/launchers/mimeapps"
)

const adminMimeapps = `[Default Applications]
application/pdf=org.gnome.Evince.desktop;
x-scheme-handler/https=firefox-esr.desktop;
x-scheme-handler/http=firefox-esr.desktop;
`

var firefoxPrevious = Previous{Argv: []string{"/usr/lib/firefox-esr/firefox-esr"},
	From: "/usr/share/applications/firefox-esr.desktop, the default for x-scheme-handler/https in /etc/xdg/mimeapps.list"}

// The dispatcher's three files are golden files; the entry passes
// desktop-file-validate; the state reads back as what was rendered; and the
// admin's other defaults stay in mimeapps.list.
func TestDispatcherFiles(t *testing.T) {
	c, err := catalog.Defaults("acme", catalog.Subdomain)
	if err != nil {
		t.Fatal(err)
	}
	set, err := RenderDispatcher(c, debianChromium, Dispatcher{Mimeapps: []byte(adminMimeapps), Previous: firefoxPrevious})
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join("testdata", "dispatcher")
	if *update {
		if err := os.RemoveAll(dir); err != nil {
			t.Fatal(err)
		}
	}
	files := map[string][]byte{}
	for _, f := range set {
		files[f.Path] = f.Data
		gpath := filepath.Join(dir, filepath.FromSlash(f.Path))
		golden.Check(t, gpath, f.Path, f.Data, *update)
	}
	entry := files["usr/share/applications/"+DispatcherID]
	kv, err := desktopentry.Parse(entry)
	if err != nil || kv["Exec"] != "/usr/bin/kiwistack-agent dispatch -- %u" || kv["MimeType"] != "x-scheme-handler/http;x-scheme-handler/https;" || kv["NoDisplay"] != "true" {
		t.Errorf("entry %v (%v)", kv, err)
	}
	path := filepath.Join(t.TempDir(), DispatcherID)
	if err := os.WriteFile(path, entry, 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := realtool.Run(t, "desktop-file-validate", "desktop-file-utils", path); err != nil || strings.TrimSpace(out) != "" {
		t.Errorf("desktop-file-validate: %v\n%s", err, out)
	}
	list := files[MimeappsList]
	for mime, want := range map[string][]string{"x-scheme-handler/https": {DispatcherID}, "x-scheme-handler/http": {DispatcherID}, "application/pdf": {"org.gnome.Evince.desktop"}} {
		if got, err := mimeapps.Defaults(list, mime); err != nil || !reflect.DeepEqual(got, want) {
			t.Errorf("%s: %q (%v)", mime, got, err)
		}
	}
	st, err := dispatch.ParseState(files[DispatchState])
	if err != nil || !reflect.DeepEqual(st.Catalog, c) || st.Browser != "/usr/bin/chromium" || !reflect.DeepEqual(st.Previous, firefoxPrevious.Argv) {
		t.Errorf("state %+v (%v)", st, err)
	}
	// A state file elsewhere (a test root) is passed with --state.
	e, err := DispatcherEntry(Dispatcher{Agent: "/opt/ks/kiwistack-agent", StateFile: "/tmp/root/var/lib/kiwistack/launchers/dispatch.json"})
	if err != nil || strings.Join(e.Exec, " ") != "/opt/ks/kiwistack-agent dispatch --state /tmp/root/var/lib/kiwistack/launchers/dispatch.json --" {
		t.Errorf("%q %v", e.Exec, err)
	}
	for _, bad := range []Dispatcher{{Agent: "kiwistack-agent"}, {Agent: "/opt/my agent/kiwistack-agent"}, {StateFile: "/tmp/a;b"}, {StateFile: "state.json"}} {
		if _, err := DispatcherEntry(bad); err == nil {
			t.Errorf("%+v accepted", bad)
		}
	}
}

func desktop(exec string) *fstest.MapFile {
	return &fstest.MapFile{Data: []byte("[Desktop Entry]\nType=Application\nName=B\nExec=" + exec + "\n")}
}

// FindPrevious follows the system mimeapps.list files in order, skips the
// dispatcher, entries that loop and entries it cannot use, and falls back
// to x-www-browser.
func TestFindPrevious(t *testing.T) {
	firefox := desktop("/usr/lib/firefox-esr/firefox-esr %u")
	for _, tc := range []struct {
		name    string
		fs      fstest.MapFS
		want    []string
		skipped int
	}{
		{"nothing", fstest.MapFS{}, nil, 0},
		{"etc/xdg", fstest.MapFS{
			"etc/xdg/mimeapps.list":                      {Data: []byte(adminMimeapps)},
			"usr/share/applications/firefox-esr.desktop": firefox,
		}, []string{"/usr/lib/firefox-esr/firefox-esr"}, 0},
		{"dispatcher first, then the next in line", fstest.MapFS{
			"etc/xdg/mimeapps.list":                      {Data: []byte("[Default Applications]\nx-scheme-handler/https=kiwistack-dispatch.desktop;\n")},
			"usr/share/applications/mimeapps.list":       {Data: []byte("[Default Applications]\nx-scheme-handler/https=firefox-esr.desktop;\n")},
			"usr/share/applications/firefox-esr.desktop": firefox,
		}, []string{"/usr/lib/firefox-esr/firefox-esr"}, 0},
		{"snap", fstest.MapFS{
			"etc/xdg/mimeapps.list": {Data: []byte("[Default Applications]\nx-scheme-handler/https=firefox_firefox.desktop\n")},
			"var/lib/snapd/desktop/applications/firefox_firefox.desktop": desktop("env BAMF_DESKTOP_FILE_HINT=/var/lib/snapd/desktop/applications/firefox_firefox.desktop /snap/bin/firefox %u"),
		}, []string{"env", "BAMF_DESKTOP_FILE_HINT=/var/lib/snapd/desktop/applications/firefox_firefox.desktop", "/snap/bin/firefox"}, 0},
		{"http only", fstest.MapFS{
			"usr/share/applications/mimeapps.list":    {Data: []byte("[Default Applications]\nx-scheme-handler/http=epiphany.desktop\n")},
			"usr/share/applications/epiphany.desktop": desktop("epiphany"),
		}, []string{"epiphany"}, 0},
		{"unusable entries skipped, then x-www-browser", fstest.MapFS{
			"etc/xdg/mimeapps.list":                 {Data: []byte("[Default Applications]\nx-scheme-handler/https=opener.desktop;missing.desktop;middle.desktop;hidden.desktop;../x.desktop;\n")},
			"usr/share/applications/opener.desktop": desktop("xdg-open %u"),
			"usr/share/applications/middle.desktop": desktop("browser %u --flag"),
			"usr/share/applications/hidden.desktop": {Data: []byte("[Desktop Entry]\nName=H\nExec=h %u\nHidden=true\n")},
			"usr/bin/x-www-browser":                 {Data: []byte("#!/bin/sh\n")},
		}, []string{"/usr/bin/x-www-browser"}, 5},
		{"malformed list", fstest.MapFS{"etc/xdg/mimeapps.list": {Data: []byte("garbage\n")}}, nil, 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p, skipped := FindPrevious(tc.fs, Previous{})
			if !reflect.DeepEqual(p.Argv, tc.want) || len(skipped) != tc.skipped || (tc.want != nil) != (p.From != "") {
				t.Errorf("%+v, skipped %q; want %q and %d skipped", p, skipped, tc.want, tc.skipped)
			}
		})
	}
}

// Once the dispatcher is the default, what an earlier render recorded is
// kept, before any fallback; a default someone set since wins over it.
func TestFindPreviousKeeps(t *testing.T) {
	ours := fstest.MapFS{
		"etc/xdg/mimeapps.list": {Data: []byte("[Default Applications]\nx-scheme-handler/https=kiwistack-dispatch.desktop;\n")},
		"usr/bin/x-www-browser": {Data: []byte("#!/bin/sh\n")},
	}
	if p, _ := FindPrevious(ours, firefoxPrevious); !reflect.DeepEqual(p, firefoxPrevious) {
		t.Errorf("kept: %+v", p)
	}
	ours["etc/xdg/mimeapps.list"] = &fstest.MapFile{Data: []byte("[Default Applications]\nx-scheme-handler/https=epiphany.desktop;\n")}
	ours["usr/share/applications/epiphany.desktop"] = desktop("epiphany %U")
	if p, _ := FindPrevious(ours, firefoxPrevious); !reflect.DeepEqual(p.Argv, []string{"epiphany"}) {
		t.Errorf("changed default: %+v", p)
	}
}
