package macos

import (
	"bytes"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
	"testing"

	"github.com/kiwistack/endpoint/internal/golden"
	"github.com/kiwistack/endpoint/launchers/catalog"
	"github.com/kiwistack/endpoint/launchers/fileset"
	"github.com/kiwistack/endpoint/launchers/icon"
	"github.com/kiwistack/endpoint/launchers/internal/realtool"
	"howett.net/plist"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

func render(t testing.TB, r catalog.Routing) (*catalog.Catalog, fileset.Set) {
	t.Helper()
	c, err := catalog.Defaults("acme", r)
	if err != nil {
		t.Fatal(err)
	}
	set, err := Render(c)
	if err != nil {
		t.Fatal(err)
	}
	return c, set
}

// goldenPath names a bundle's files by launcher id, so that testdata holds
// only the file names Go modules allow (launcher names have '·').
func goldenPath(c *catalog.Catalog, p string) string {
	for i := range c.Launchers {
		if dir := BundleDir(&c.Launchers[i]); strings.HasPrefix(p, dir+"/") {
			return filepath.Join(AppsDir, c.Launchers[i].ID+".app", strings.TrimPrefix(p, dir+"/"))
		}
	}
	return p
}

// The text files (Info.plist, wrappers, policy plists, the profile) are
// golden files under testdata/<routing>/; the icons are the icon package's.
func TestGolden(t *testing.T) {
	for _, r := range []catalog.Routing{catalog.Subdomain, catalog.Path} {
		t.Run(string(r), func(t *testing.T) {
			c, set := render(t, r)
			dir := filepath.Join("testdata", string(r))
			if *update {
				if err := os.RemoveAll(dir); err != nil {
					t.Fatal(err)
				}
			}
			n := 0
			for _, f := range set {
				if strings.HasSuffix(f.Path, ".icns") {
					continue
				}
				n++
				gpath := filepath.Join(dir, filepath.FromSlash(goldenPath(c, f.Path)))
				golden.Check(t, gpath, f.Path, f.Data, *update)
			}
			// Six Chromium launchers with an Info.plist and a wrapper each, two
			// policy plists, one profile. Chat is Element Desktop: no bundle.
			if n != 6*2+2+1 {
				t.Errorf("%d text files", n)
			}
		})
	}
}

// What each bundle holds, as plistutil and icns2png read it from a root
// the writer filled, and what its wrapper runs.
func TestBundles(t *testing.T) {
	for _, r := range []catalog.Routing{catalog.Subdomain, catalog.Path} {
		t.Run(string(r), func(t *testing.T) {
			c, set := render(t, r)
			root := t.TempDir()
			if _, err := (fileset.Writer{Root: root, Manifest: Manifest, Owned: []string{AppsDir}}).Apply(set); err != nil {
				t.Fatal(err)
			}
			bundles, _ := filepath.Glob(filepath.Join(root, AppsDir, "*.app"))
			if len(bundles) != 6 {
				t.Errorf("%d bundles: %v", len(bundles), bundles)
			}
			for _, l := range c.Launchers {
				bundle := filepath.Join(root, filepath.FromSlash(BundleDir(&l)))
				if l.Kind != catalog.Web {
					if _, err := os.Stat(bundle); !os.IsNotExist(err) {
						t.Errorf("%s has a bundle", l.ID)
					}
					continue
				}
				b, err := os.ReadFile(filepath.Join(bundle, "Contents/Info.plist"))
				if err != nil {
					t.Fatal(err)
				}
				var info map[string]any
				if _, err := plist.Unmarshal(realtool.PlistRoundTrip(t, b), &info); err != nil {
					t.Fatal(err)
				}
				exe := filepath.Join(bundle, "Contents/MacOS", info["CFBundleExecutable"].(string))
				icns := filepath.Join(bundle, "Contents/Resources", info["CFBundleIconFile"].(string))
				if info["CFBundleIdentifier"] != "io.kiwistack.launcher."+l.ID || info["CFBundleDisplayName"] != l.Name {
					t.Errorf("%s: %v", l.ID, info)
				}
				if st, err := os.Stat(exe); err != nil || st.Mode().Perm() != 0o755 {
					t.Errorf("%s: wrapper %v", l.ID, err)
				}
				out, err := realtool.Run(t, "shellcheck", "shellcheck", "--shell=sh", "--severity=style", exe)
				if err != nil {
					t.Errorf("%s: shellcheck: %v\n%s", l.ID, err, out)
				}
				wrapper, _ := os.ReadFile(exe)
				if !bytes.Contains(wrapper, []byte(" '--app="+l.URL+"' '--profile-directory=Work'\n")) {
					t.Errorf("%s: wrapper does not open %s:\n%s", l.ID, l.URL, wrapper)
				}
				// Debian's libicns predates icp4, icp5 and ic07 (see the icon
				// package), so only its listing is asked of it.
				out, err = realtool.Run(t, "icns2png", "icnsutils", "-l", icns)
				if err != nil || !strings.Contains(out, "6 elements total") || !strings.Contains(out, "'ic10' 1024x1024 32-bit") {
					t.Errorf("%s: icns2png -l: %v\n%s", l.ID, err, out)
				}
				want, _ := icon.ICNS(l.Icon)
				if got, _ := os.ReadFile(icns); !bytes.Equal(got, want) {
					t.Errorf("%s: the icns is not the icon package's", l.ID)
				}
			}
		})
	}
}

// A rendered wrapper, run by the real sh from the root it was written to,
// execs the stand-in Google Chrome with the launcher's app arguments.
func TestWrapperOpensTheApp(t *testing.T) {
	c, set := render(t, catalog.Path)
	root := t.TempDir()
	if _, err := (fileset.Writer{Root: root, Manifest: Manifest, Owned: []string{AppsDir}}).Apply(set); err != nil {
		t.Fatal(err)
	}
	home := t.TempDir()
	record := filepath.Join(home, "argv")
	chrome := filepath.Join(home, "Applications/Google Chrome.app/Contents/MacOS/Google Chrome")
	if err := os.MkdirAll(filepath.Dir(chrome), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(chrome, []byte("#!/bin/sh\nprintf '%s\\n' \"$@\" > \"$RECORD\"\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	l := c.Launcher("wiki")
	exe := filepath.Join(root, filepath.FromSlash(BundleDir(l)), "Contents/MacOS", Executable(l))
	cmd := exec.Command(realtool.Require(t, "sh", "dash"), exe)
	cmd.Env = []string{"HOME=" + home, "PATH=/usr/bin:/bin", "RECORD=" + record}
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	got, _ := os.ReadFile(record)
	if want := "--app=https://od.acme.kiwistack.io/wiki/\n--profile-directory=Work\n"; string(got) != want {
		t.Errorf("Chrome got\n%s\nwant\n%s", got, want)
	}
}

// The policy plists hold exactly the policy, for both domains, as
// plistutil reads them, each value in its own plist type (the boolean
// <true/>, the certificate rules an <array> of <string>); the profile
// carries the same settings.
func TestPolicy(t *testing.T) {
	for _, delegation := range []bool{false, true} {
		c, err := catalog.Defaults("acme", catalog.Subdomain)
		if err != nil {
			t.Fatal(err)
		}
		c.KerberosDelegation = delegation
		set, err := Render(c)
		if err != nil {
			t.Fatal(err)
		}
		files := map[string][]byte{}
		for _, f := range set {
			files[f.Path] = f.Data
		}
		rule := `{"pattern":"https://[*.]od.acme.kiwistack.io","filter":{"ISSUER":{"CN":"acme Intermediate CA"}}}`
		want := map[string]any{
			"AuthServerAllowlist":             "*.od.acme.kiwistack.io",
			"DisableAuthNegotiateCnameLookup": true,
			"AutoSelectCertificateForUrls":    []any{rule},
		}
		if delegation {
			want["AuthNegotiateDelegateAllowlist"] = "*.od.acme.kiwistack.io"
		}
		for _, d := range PolicyDomains {
			var got map[string]any
			if _, err := plist.Unmarshal(realtool.PlistRoundTrip(t, files["Library/Managed Preferences/"+d+".plist"]), &got); err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, want) {
				t.Errorf("%s: %v, want %v", d, got, want)
			}
			// The types as written, not only as decoded: a <true/>, and an
			// <array> holding the rule as a <string>.
			var typed struct {
				Disable bool     `plist:"DisableAuthNegotiateCnameLookup"`
				Rules   []string `plist:"AutoSelectCertificateForUrls"`
			}
			raw := files["Library/Managed Preferences/"+d+".plist"]
			if _, err := plist.Unmarshal(raw, &typed); err != nil || !typed.Disable || len(typed.Rules) != 1 || typed.Rules[0] != rule {
				t.Errorf("%s: typed %+v (%v)", d, typed, err)
			}
			if !regexp.MustCompile(`<key>DisableAuthNegotiateCnameLookup</key>\s*<true/>`).Match(raw) ||
				!regexp.MustCompile(`<key>AutoSelectCertificateForUrls</key>\s*<array>\s*<string>[^<]+</string>\s*</array>`).Match(raw) {
				t.Errorf("%s: not a <true/> and an <array> of one <string>:\n%s", d, raw)
			}
		}
		var profile map[string]any
		if _, err := plist.Unmarshal(realtool.PlistRoundTrip(t, files[ProfilePath(c)]), &profile); err != nil {
			t.Fatal(err)
		}
		if profile["PayloadIdentifier"] != "io.kiwistack.acme.browser-policy" {
			t.Errorf("profile: %v", profile)
		}
		for i, p := range profile["PayloadContent"].([]any) {
			pl := p.(map[string]any)
			got := pl["PayloadContent"].(map[string]any)[PolicyDomains[i]].(map[string]any)["Forced"].([]any)[0].(map[string]any)["mcx_preference_settings"]
			if !reflect.DeepEqual(got, want) || !regexp.MustCompile(`^io\.kiwistack\.acme\.browser-policy\.`).MatchString(pl["PayloadIdentifier"].(string)) {
				t.Errorf("payload %d: %v", i, pl)
			}
		}
	}
}

// An unchanged catalog writes nothing; a launcher that leaves takes its
// whole bundle with it.
func TestReconcile(t *testing.T) {
	c, set := render(t, catalog.Subdomain)
	root := t.TempDir()
	w := fileset.Writer{Root: root, Manifest: Manifest, Owned: []string{AppsDir}}
	if _, err := w.Apply(set); err != nil {
		t.Fatal(err)
	}
	res, err := w.Apply(set)
	if err != nil || len(res.Written) != 0 {
		t.Fatalf("unchanged: wrote %v (%v)", res.Written, err)
	}
	wiki := BundleDir(c.Launcher("wiki"))
	var kept []catalog.Launcher
	for _, l := range c.Launchers {
		if l.ID != "wiki" {
			kept = append(kept, l)
		}
	}
	c.Launchers = kept
	smaller, err := Render(c)
	if err != nil {
		t.Fatal(err)
	}
	res, err = w.Apply(smaller)
	if err != nil || len(res.Written) != 0 || len(res.Removed) != 3 {
		t.Fatalf("wiki left: wrote %v, removed %v (%v)", res.Written, res.Removed, err)
	}
	if _, err := os.Stat(filepath.Join(root, filepath.FromSlash(wiki))); !os.IsNotExist(err) {
		t.Errorf("%s is still there: %v", wiki, err)
	}
}

func TestRejectsCaseInsensitiveTwins(t *testing.T) {
	c, _ := catalog.Defaults("acme", catalog.Subdomain)
	c.Launcher("wiki").Name = "meet"
	if _, err := Render(c); err == nil || !strings.Contains(err.Error(), "case-insensitive") {
		t.Errorf("%v", err)
	}
}

// BenchmarkRenderDarwin is the full macOS render of the default catalog (six
// bundles with a 6-element .icns each, two policy plists, the profile),
// without writing: issue 5 asks for at most 50 ms per OS.
func BenchmarkRenderDarwin(b *testing.B) {
	c, _ := catalog.Defaults("acme", catalog.Subdomain)
	for b.Loop() {
		if _, err := Render(c); err != nil {
			b.Fatal(err)
		}
	}
}

func Example() {
	c, _ := catalog.Defaults("acme", catalog.Subdomain)
	set, _ := Render(c)
	for _, f := range set[:3] {
		fmt.Printf("%s %o\n", f.Path, f.Mode)
	}
	// Output:
	// Applications/KiwiStack/Mail · Calendar · Contacts · Tasks.app/Contents/Info.plist 644
	// Applications/KiwiStack/Mail · Calendar · Contacts · Tasks.app/Contents/MacOS/kiwistack-mail 755
	// Applications/KiwiStack/Mail · Calendar · Contacts · Tasks.app/Contents/Resources/kiwistack-mail.icns 644
}
