package xdg

import (
	"bytes"
	"flag"
	"image/png"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/kiwistack/endpoint/internal/golden"
	"github.com/kiwistack/endpoint/launchers/catalog"
	"github.com/kiwistack/endpoint/launchers/chromium"
	"github.com/kiwistack/endpoint/launchers/fileset"
	"github.com/kiwistack/endpoint/launchers/icon"
	"github.com/kiwistack/endpoint/launchers/internal/realtool"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

var debianChromium = chromium.Browser{Candidate: chromium.LinuxCandidates[0], Path: "/usr/bin/chromium"}

func render(t testing.TB, r catalog.Routing) (*catalog.Catalog, fileset.Set) {
	c, err := catalog.Defaults("acme", r)
	if err != nil {
		t.Fatal(err)
	}
	set, err := Render(c, debianChromium)
	if err != nil {
		t.Fatal(err)
	}
	return c, set
}

// The text files (desktop entries, policies, Element's config) are golden
// files under testdata/<routing>/ at their path in the root; the icons are
// checked by the icon package's hashes and here by decoding.
func TestGolden(t *testing.T) {
	for _, r := range []catalog.Routing{catalog.Subdomain, catalog.Path} {
		t.Run(string(r), func(t *testing.T) {
			_, set := render(t, r)
			dir := filepath.Join("testdata", string(r))
			if *update {
				if err := os.RemoveAll(dir); err != nil {
					t.Fatal(err)
				}
			}
			n := 0
			for _, f := range set {
				if strings.HasSuffix(f.Path, ".png") {
					continue
				}
				n++
				gpath := filepath.Join(dir, filepath.FromSlash(f.Path))
				golden.Check(t, gpath, f.Path, f.Data, *update)
			}
			// Seven launchers: six Chromium entries, Element for Chat, Nextcloud
			// beside Files; three policy copies; Element's config.
			if n != 8+3+1 {
				t.Errorf("%d text files", n)
			}
		})
	}
}

func parseEntry(t *testing.T, b []byte) map[string]string {
	t.Helper()
	m := map[string]string{}
	lines := strings.Split(strings.TrimSuffix(string(b), "\n"), "\n")
	if lines[0] != "[Desktop Entry]" {
		t.Fatalf("no group header:\n%s", b)
	}
	for _, l := range lines[1:] {
		k, v, ok := strings.Cut(l, "=")
		if !ok {
			t.Fatalf("bad line %q", l)
		}
		if _, dup := m[k]; dup {
			t.Fatalf("duplicate key %s", k)
		}
		m[k] = v
	}
	return m
}

// What each launcher runs, and the window class it announces.
func TestEntries(t *testing.T) {
	for _, r := range []catalog.Routing{catalog.Subdomain, catalog.Path} {
		c, set := render(t, r)
		files := map[string][]byte{}
		for _, f := range set {
			files[f.Path] = f.Data
		}
		for _, l := range c.Launchers {
			e := parseEntry(t, files[EntryPath(l.ID)])
			if e["Name"] != l.Name || e["Icon"] != "kiwistack-"+l.ID || e["Type"] != "Application" {
				t.Errorf("%s: %v", l.ID, e)
			}
			switch l.Kind {
			case catalog.Web:
				class, _ := chromium.WMClass(l.URL)
				want := "/usr/bin/chromium --app=" + l.URL + " --profile-directory=Work"
				if e["Exec"] != want || e["StartupWMClass"] != class || e["TryExec"] != "/usr/bin/chromium" {
					t.Errorf("%s %s: Exec=%s StartupWMClass=%s", r, l.ID, e["Exec"], e["StartupWMClass"])
				}
			case catalog.Element:
				if e["Exec"] != "element-desktop --config=/etc/kiwistack/element-desktop/config.json" || e["StartupWMClass"] != "" {
					t.Errorf("chat: %v", e)
				}
			}
		}
		sync := parseEntry(t, files[EntryPath("files-sync")])
		if !strings.HasPrefix(sync["Exec"], "nextcloud --overrideserverurl https://") || sync["TryExec"] != "nextcloud" {
			t.Errorf("files sync: %v", sync)
		}
		mail := parseEntry(t, files[EntryPath("mail")])
		wantClass := map[catalog.Routing]string{catalog.Subdomain: "mail.od.acme.kiwistack.io", catalog.Path: "od.acme.kiwistack.io__mail"}[r]
		if mail["StartupWMClass"] != wantClass {
			t.Errorf("%s: mail StartupWMClass=%s, want %s", r, mail["StartupWMClass"], wantClass)
		}
		for _, dir := range []string{"etc/chromium/policies/managed", "etc/chromium-browser/policies/managed", "etc/opt/chrome/policies/managed"} {
			if _, ok := files[dir+"/kiwistack.json"]; !ok {
				t.Errorf("no policy in %s", dir)
			}
		}
	}
}

func TestIcons(t *testing.T) {
	c, set := render(t, catalog.Subdomain)
	files := map[string][]byte{}
	for _, f := range set {
		files[f.Path] = f.Data
	}
	for _, l := range c.Launchers {
		for _, s := range icon.HicolorSizes {
			b, ok := files[IconPath(l.ID, s)]
			if !ok {
				t.Errorf("no %s", IconPath(l.ID, s))
				continue
			}
			cfg, err := png.DecodeConfig(bytes.NewReader(b))
			if err != nil || cfg.Width != s || cfg.Height != s {
				t.Errorf("%s: %v %dx%d", IconPath(l.ID, s), err, cfg.Width, cfg.Height)
			}
			want, _ := icon.PNG(l.Icon, s)
			if !bytes.Equal(b, want) {
				t.Errorf("%s is not the icon package's drawing", IconPath(l.ID, s))
			}
		}
	}
}

// The reference validator on every desktop entry, both routing shapes, and
// on the files as written into a root.
func TestDesktopFileValidate(t *testing.T) {
	for _, r := range []catalog.Routing{catalog.Subdomain, catalog.Path} {
		_, set := render(t, r)
		root := t.TempDir()
		if _, err := (fileset.Writer{Root: root, Manifest: Manifest}).Apply(set); err != nil {
			t.Fatal(err)
		}
		entries, _ := filepath.Glob(filepath.Join(root, ApplicationsDir, "*.desktop"))
		if len(entries) != 8 {
			t.Fatalf("%d desktop entries", len(entries))
		}
		out, err := realtool.Run(t, "desktop-file-validate", "desktop-file-utils", entries...)
		if err != nil || strings.TrimSpace(out) != "" {
			t.Errorf("%s: desktop-file-validate: %v\n%s", r, err, out)
		}
	}
}

// Reconciling: an unchanged catalog writes nothing; a launcher that leaves
// the catalog takes its entry and icons with it; the other files stay.
func TestReconcile(t *testing.T) {
	c, set := render(t, catalog.Subdomain)
	root := t.TempDir()
	w := fileset.Writer{Root: root, Manifest: Manifest}
	res, err := w.Apply(set)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Written) != len(set) {
		t.Fatalf("wrote %d of %d", len(res.Written), len(set))
	}
	again, _ := Render(c, debianChromium)
	res, err = w.Apply(again)
	if err != nil || len(res.Written) != 0 || len(res.Unchanged) != len(set) {
		t.Fatalf("unchanged catalog: %v written, %v", res.Written, err)
	}
	var kept []catalog.Launcher
	for _, l := range c.Launchers {
		if l.ID != "wiki" {
			kept = append(kept, l)
		}
	}
	c.Launchers = kept
	smaller, err := Render(c, debianChromium)
	if err != nil {
		t.Fatal(err)
	}
	res, err = w.Apply(smaller)
	if err != nil {
		t.Fatal(err)
	}
	var want []string
	want = append(want, EntryPath("wiki"))
	for _, s := range icon.HicolorSizes {
		want = append(want, IconPath("wiki", s))
	}
	if len(res.Written) != 0 || !sameSet(res.Removed, want) {
		t.Errorf("wiki left: written %v, removed %v", res.Written, res.Removed)
	}
	for _, p := range want {
		if _, err := os.Stat(filepath.Join(root, p)); !os.IsNotExist(err) {
			t.Errorf("%s still there", p)
		}
	}
}

func sameSet(a, b []string) bool {
	m := map[string]int{}
	for _, s := range a {
		m[s]++
	}
	for _, s := range b {
		m[s]--
	}
	for _, v := range m {
		if v != 0 {
			return false
		}
	}
	return len(a) == len(b)
}

func TestRenderNeedsBrowser(t *testing.T) {
	c, _ := catalog.Defaults("acme", catalog.Subdomain)
	if _, err := Render(c, chromium.Browser{}); err == nil {
		t.Errorf("rendered without a browser")
	}
	snap := chromium.Browser{Candidate: chromium.LinuxCandidates[2], Path: "/snap/bin/chromium"}
	set, err := Render(c, snap)
	if err != nil {
		t.Fatal(err)
	}
	e, _ := Entries(c.Launcher("mail"), snap)
	if !reflect.DeepEqual(e[0].Entry.Exec[:1], []string{"/snap/bin/chromium"}) || len(set) == 0 {
		t.Errorf("snap: %v", e[0].Entry.Exec)
	}
}

// BenchmarkRenderLinux is the full render of the default catalog for Linux
// (8 desktop entries, 63 PNG icons, 3 policies, Element's config), without
// writing: issue 5 asks for at most 50 ms.
func BenchmarkRenderLinux(b *testing.B) {
	c, _ := catalog.Defaults("acme", catalog.Subdomain)
	for b.Loop() {
		if _, err := Render(c, debianChromium); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkReconcileUnchanged is a render plus an apply that finds every
// file already up to date: the agent's steady state.
func BenchmarkReconcileUnchanged(b *testing.B) {
	c, _ := catalog.Defaults("acme", catalog.Subdomain)
	set, _ := Render(c, debianChromium)
	w := fileset.Writer{Root: b.TempDir(), Manifest: Manifest}
	if _, err := w.Apply(set); err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		set, err := Render(c, debianChromium)
		if err != nil {
			b.Fatal(err)
		}
		if res, err := w.Apply(set); err != nil || len(res.Written) != 0 {
			b.Fatalf("%v %v", res.Written, err)
		}
	}
}
