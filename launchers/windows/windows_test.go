package windows

import (
	"bytes"
	"context"
	"encoding/xml"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode/utf16"

	"github.com/kiwistack/endpoint/internal/golden"

	"github.com/kiwistack/endpoint/launchers/catalog"
	"github.com/kiwistack/endpoint/launchers/chromepolicy"
	"github.com/kiwistack/endpoint/launchers/dispatch"
	"github.com/kiwistack/endpoint/launchers/fileset"
	"github.com/kiwistack/endpoint/launchers/icon"
	"github.com/kiwistack/endpoint/launchers/internal/realtool"
	"github.com/kiwistack/endpoint/launchers/winreg"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

func defaults(t testing.TB, r catalog.Routing) *catalog.Catalog {
	t.Helper()
	c, err := catalog.Defaults("acme", r)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func render(t testing.TB, c *catalog.Catalog) fileset.Set {
	t.Helper()
	set, err := Render(c, Options{})
	if err != nil {
		t.Fatal(err)
	}
	return set
}

func utf16Text(t *testing.T, b []byte) string {
	t.Helper()
	if len(b) < 2 || b[0] != 0xff || b[1] != 0xfe || len(b)%2 != 0 {
		t.Fatalf("not UTF-16LE with a byte-order mark: % x", b[:min(4, len(b))])
	}
	units := make([]uint16, 0, len(b)/2-1)
	for i := 2; i < len(b); i += 2 {
		units = append(units, uint16(b[i])|uint16(b[i+1])<<8)
	}
	return string(utf16.Decode(units))
}

// goldenPath names files by launcher id (testdata keeps to the file names
// Go modules allow; launcher names have '·') and gives the UTF-16 .reg file
// a UTF-8 twin that a reviewer can read in a diff.
func goldenPath(c *catalog.Catalog, p string) string {
	for _, l := range c.Launchers {
		if l.Kind == catalog.Web && strings.HasSuffix(p, "/"+ShortcutName(&l)) {
			return strings.TrimSuffix(p, ShortcutName(&l)) + l.ID + ".lnk"
		}
	}
	if strings.HasSuffix(p, ".reg") {
		return p + ".utf8"
	}
	return p
}

// Every file but the icons is a golden file: the shortcuts byte for byte,
// the .reg file as its UTF-8 text.
func TestGolden(t *testing.T) {
	for _, r := range []catalog.Routing{catalog.Subdomain, catalog.Path} {
		t.Run(string(r), func(t *testing.T) {
			c := defaults(t, r)
			set := render(t, c)
			dir := filepath.Join("testdata", string(r))
			if *update {
				if err := os.RemoveAll(dir); err != nil {
					t.Fatal(err)
				}
			}
			n := 0
			for _, f := range set {
				if strings.HasSuffix(f.Path, ".ico") {
					continue
				}
				n++
				data := f.Data
				if strings.HasSuffix(f.Path, ".reg") {
					data = []byte(utf16Text(t, f.Data))
				}
				gpath := filepath.Join(dir, filepath.FromSlash(goldenPath(c, f.Path)))
				golden.Check(t, gpath, f.Path, data, *update)
			}
			// Six Chromium launchers, each in the Start Menu and on the
			// Desktop; the .reg file, the default associations, the
			// dispatcher's state.
			if n != 6*2+3 {
				t.Errorf("%d files", n)
			}
		})
	}
}

// lnkinfo (liblnk) reads every shortcut, in the Start Menu and on the
// Desktop, as running the browser with the launcher's app arguments and the
// launcher's own .ico, which is where the shortcut says, and holds every
// size (icotool).
func TestShortcutsThroughLnkinfo(t *testing.T) {
	for _, r := range []catalog.Routing{catalog.Subdomain, catalog.Path} {
		c := defaults(t, r)
		root := t.TempDir()
		if _, err := (fileset.Writer{Root: root, Manifest: Manifest}).Apply(render(t, c)); err != nil {
			t.Fatal(err)
		}
		for _, l := range c.Launchers {
			for _, dir := range []string{StartMenuDir, DesktopDir} {
				lnk := filepath.Join(root, filepath.FromSlash(dir), ShortcutName(&l))
				if l.Kind != catalog.Web {
					if _, err := os.Stat(lnk); !os.IsNotExist(err) {
						t.Errorf("%s has a shortcut", l.ID)
					}
					continue
				}
				out, err := realtool.Run(t, "lnkinfo", "liblnk-utils", lnk)
				if err != nil {
					t.Fatalf("lnkinfo %s: %v\n%s", lnk, err, out)
				}
				ico := `C:\Program Files\KiwiStack\icons\kiwistack-` + l.ID + `.ico`
				for _, want := range []string{
					"Local path\t\t\t: " + DefaultBrowser + "\n",
					"Command line arguments\t\t: --app=" + l.URL + " --profile-directory=Work\n",
					"Working directory\t\t: C:\\Program Files\\Google\\Chrome\\Application\n",
					"Icon location\t\t\t: " + ico + "\n",
					"Description\t\t\t: " + l.Comment + "\n",
				} {
					if !strings.Contains(out, want) {
						t.Errorf("%s: lnkinfo does not show %q:\n%s", l.ID, want, out)
					}
				}
				// The icon location, mapped from C:\ to the root, is the
				// launcher's icon.
				onDisk := filepath.Join(root, filepath.FromSlash(strings.ReplaceAll(strings.TrimPrefix(ico, `C:\`), `\`, "/")))
				got, err := os.ReadFile(onDisk)
				want, _ := icon.ICO(l.Icon)
				if err != nil || !bytes.Equal(got, want) {
					t.Errorf("%s: icon at %s: %v", l.ID, onDisk, err)
				}
			}
			if l.Kind != catalog.Web {
				continue
			}
			out, err := realtool.Run(t, "icotool", "icoutils", "-l", filepath.Join(root, filepath.FromSlash(IconPath(l.ID))))
			if err != nil {
				t.Fatalf("icotool: %v\n%s", err, out)
			}
			for _, s := range icon.ICOSizes {
				if !strings.Contains(out, fmt.Sprintf("--width=%d --height=%d --bit-depth=32", s, s)) {
					t.Errorf("%s.ico lacks %dx%d:\n%s", l.ID, s, s, out)
				}
			}
		}
	}
}

// regLine is one value line of a .reg file: a string, a DWORD or a
// deletion.
var regLine = regexp.MustCompile(`^(@|"((?:[^"\\]|\\.)*)")=(-|"((?:[^"\\]|\\.)*)"|dword:([0-9a-f]{8}))$`)

// deletedKeyID is parseReg's id of a key deletion ("[-key]").
func deletedKeyID(key string) string { return strings.ToLower(key) + "\x00\x00" }

// parseReg reads the values of a .reg text, independently of winreg:
// lower-case "key\x00name" to value, deletions as winreg.Delete, DWORDs as
// winreg.DWORD, and a deleted key ("[-key]") as winreg.DeleteKey under
// deletedKeyID.
func parseReg(t *testing.T, text string) map[string]winreg.Value {
	t.Helper()
	lines := strings.Split(strings.ReplaceAll(text, "\r\n", "\n"), "\n")
	if lines[0] != "Windows Registry Editor Version 5.00" {
		t.Fatalf("header %q", lines[0])
	}
	unescape := strings.NewReplacer(`\\`, `\`, `\"`, `"`)
	vals := map[string]winreg.Value{}
	key := ""
	for _, l := range lines[1:] {
		switch {
		case l == "":
		case strings.HasPrefix(l, "[-") && strings.HasSuffix(l, "]"):
			k, ok := strings.CutPrefix(l[2:len(l)-1], winreg.RootName+`\`)
			if !ok {
				t.Fatalf("key outside HKLM: %q", l)
			}
			vals[deletedKeyID(k)] = winreg.Value{Key: k, Kind: winreg.DeleteKey}
			key = ""
		case strings.HasPrefix(l, "[") && strings.HasSuffix(l, "]"):
			k, ok := strings.CutPrefix(l[1:len(l)-1], winreg.RootName+`\`)
			if !ok {
				t.Fatalf("key outside HKLM: %q", l)
			}
			key = k
		default:
			m := regLine.FindStringSubmatch(l)
			if m == nil || key == "" {
				t.Fatalf("unparsable line %q", l)
			}
			v := winreg.Value{Key: key, Name: unescape.Replace(m[2]), Kind: winreg.String, String: unescape.Replace(m[4])}
			switch {
			case m[3] == "-":
				v.Kind, v.String = winreg.Delete, ""
			case m[5] != "":
				d, err := strconv.ParseUint(m[5], 16, 32)
				if err != nil {
					t.Fatalf("%q: %v", l, err)
				}
				v.Kind, v.String, v.DWord = winreg.DWORD, "", uint32(d)
			}
			vals[strings.ToLower(v.Key)+"\x00"+strings.ToLower(v.Name)] = v
		}
	}
	return vals
}

// The rendered .reg file says exactly what RegistryValues says, value for
// value, and winreg.Apply writes exactly that into a registry: the file
// reviewed and the registry written come from the same function.
func TestRegFileAndWriterAgree(t *testing.T) {
	for _, delegation := range []bool{false, true} {
		c := defaults(t, catalog.Subdomain)
		c.KerberosDelegation = delegation
		var reg []byte
		for _, f := range render(t, c) {
			if f.Path == RegFile {
				reg = f.Data
			}
		}
		fromFile := parseReg(t, utf16Text(t, reg))
		vs, err := RegistryValues(c, Options{})
		if err != nil {
			t.Fatal(err)
		}
		if len(fromFile) != len(vs) {
			t.Errorf("the .reg file has %d values, RegistryValues %d", len(fromFile), len(vs))
		}
		var store winreg.MemStore
		if err := winreg.Apply(&store, vs); err != nil {
			t.Fatal(err)
		}
		for id, v := range fromFile {
			got, written := store.Values[id]
			if v.Kind == winreg.DeleteKey {
				continue
			}
			if v.Kind == winreg.Delete {
				if written {
					t.Errorf("%s deleted in the file, written by the writer", id)
				}
				continue
			}
			if !written || got != v {
				t.Errorf("%q: file %+v, writer %+v", id, v, got)
			}
		}
		for id := range store.Values {
			if _, ok := fromFile[id]; !ok {
				t.Errorf("the writer sets %q, the file does not", id)
			}
		}
		for _, key := range PolicyKeys {
			id := strings.ToLower(key) + "\x00authserverallowlist"
			if store.Values[id].String != "*.od.acme.kiwistack.io" {
				t.Errorf("%s: %+v", key, store.Values[id])
			}
			id = strings.ToLower(key) + "\x00authnegotiatedelegateallowlist"
			if _, set := store.Values[id]; set != delegation {
				t.Errorf("%s: delegation %v, value set %v", key, delegation, set)
			}
			// The boolean is a REG_DWORD 1; the list is the subkey named
			// after the policy, its one rule the value "1", and the file
			// deletes the subkey before writing it.
			id = strings.ToLower(key) + "\x00disableauthnegotiatecnamelookup"
			if v := store.Values[id]; v.Kind != winreg.DWORD || v.DWord != 1 || fromFile[id] != v {
				t.Errorf("%s: DisableAuthNegotiateCnameLookup %+v, in the file %+v", key, v, fromFile[id])
			}
			list := key + `\AutoSelectCertificateForUrls`
			rule := `{"pattern":"https://[*.]od.acme.kiwistack.io","filter":{"ISSUER":{"CN":"acme Intermediate CA"}}}`
			if v := store.Values[strings.ToLower(list)+"\x001"]; v.Kind != winreg.String || v.String != rule {
				t.Errorf("%s: item 1 %+v", list, v)
			}
			if _, ok := fromFile[deletedKeyID(list)]; !ok {
				t.Errorf("the .reg file does not delete %s before writing it", list)
			}
		}
	}
}

// A policy that is not set is deleted: its value, or for a list its whole
// subkey; a list that is set is written after its subkey is deleted, item
// i as the value "i"; the booleans are DWORDs.
func TestPolicyValues(t *testing.T) {
	for _, key := range PolicyKeys {
		want := []winreg.Value{
			{Key: key, Name: "AuthServerAllowlist", Kind: winreg.Delete},
			{Key: key, Name: "AuthNegotiateDelegateAllowlist", Kind: winreg.Delete},
			{Key: key, Name: "DisableAuthNegotiateCnameLookup", Kind: winreg.Delete},
			{Key: key + `\AutoSelectCertificateForUrls`, Kind: winreg.DeleteKey},
		}
		got := PolicyValues(chromepolicy.Policy{})
		if len(got) != len(chromepolicy.Managed)*len(PolicyKeys) {
			t.Errorf("nothing set: %+v", got)
		}
		for _, w := range want {
			if !slices.Contains(got, w) {
				t.Errorf("nothing set: no %+v", w)
			}
		}
	}
	got := PolicyValues(chromepolicy.Policy{DisableAuthNegotiateCnameLookup: true, AutoSelectCertificateForUrls: []string{"a", "b", "c"}})
	if err := winreg.Validate(got); err != nil {
		t.Fatal(err)
	}
	key := PolicyKeys[0]
	want := []winreg.Value{
		{Key: key, Name: "AuthServerAllowlist", Kind: winreg.Delete},
		{Key: key, Name: "AuthNegotiateDelegateAllowlist", Kind: winreg.Delete},
		{Key: key, Name: "DisableAuthNegotiateCnameLookup", Kind: winreg.DWORD, DWord: 1},
		{Key: key + `\AutoSelectCertificateForUrls`, Kind: winreg.DeleteKey},
		{Key: key + `\AutoSelectCertificateForUrls`, Name: "1", Kind: winreg.String, String: "a"},
		{Key: key + `\AutoSelectCertificateForUrls`, Name: "2", Kind: winreg.String, String: "b"},
		{Key: key + `\AutoSelectCertificateForUrls`, Name: "3", Kind: winreg.String, String: "c"},
	}
	if !slices.Equal(got[:len(want)], want) {
		t.Errorf("got %+v\nwant %+v", got[:len(want)], want)
	}
	// Written over a registry that held a longer list and the policies,
	// nothing stale is left.
	var store winreg.MemStore
	c := defaults(t, catalog.Subdomain)
	c.KerberosDelegation = true
	full, err := RegistryValues(c, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := winreg.Apply(&store, full); err != nil {
		t.Fatal(err)
	}
	for _, n := range []string{"2", "3", "4"} {
		_ = store.SetString(key+`\AutoSelectCertificateForUrls`, n, "stale")
	}
	if err := winreg.Apply(&store, PolicyValues(chromepolicy.Policy{AutoSelectCertificateForUrls: []string{"only"}})); err != nil {
		t.Fatal(err)
	}
	for id, v := range store.Values {
		if strings.HasPrefix(id, strings.ToLower(`SOFTWARE\Policies\`)) && !(v.Name == "1" && v.String == "only") {
			t.Errorf("left behind: %+v", v)
		}
	}
}

// wine returns a function running a Windows command in a fresh Wine
// prefix (the first command creates it); the prefix's wineserver, and with
// it every Wine process of the prefix, is killed at cleanup.
func wine(t *testing.T) func(args ...string) string {
	t.Helper()
	winePath := realtool.Require(t, "wine", "wine and wine64")
	server := realtool.Require(t, "wineserver", "wine and wine64")
	prefix := filepath.Join(t.TempDir(), "prefix")
	env := append(os.Environ(), "WINEPREFIX="+prefix, "WINEDEBUG=-all", "WINEDLLOVERRIDES=mscoree,mshtml=", "DISPLAY=")
	logs := t.TempDir()
	n := 0
	run := func(args ...string) string {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		// Output goes to a file, not a pipe: wineserver and Wine's services
		// inherit the descriptors and outlive the command, and a pipe would
		// make Wait wait for them.
		n++
		log, err := os.Create(filepath.Join(logs, fmt.Sprintf("%d.log", n)))
		if err != nil {
			t.Fatal(err)
		}
		defer log.Close()
		cmd := exec.CommandContext(ctx, winePath, args...)
		cmd.Env = env
		cmd.Stdout, cmd.Stderr = log, log
		err = cmd.Run()
		out, _ := os.ReadFile(log.Name())
		if err != nil {
			t.Fatalf("wine %q: %v\n%s", args, err, out)
		}
		return string(out)
	}
	t.Cleanup(func() {
		cmd := exec.Command(server, "-k")
		cmd.Env = env
		_ = cmd.Run()
	})
	// Create the prefix and wait until wineboot's first-run registry
	// set-up has finished (wineserver -w): it runs in the background and,
	// on a loaded machine, could still be writing HKLM while the test
	// imports and exports (a flake seen in CI).
	run("wineboot", "--init")
	wait := exec.Command(server, "-w")
	wait.Env = env
	if err := wait.Run(); err != nil {
		t.Fatalf("waiting for the Wine prefix to settle: %v", err)
	}
	return run
}

// winPath is the Wine drive path (Z:) of a Unix path.
func winPath(p string) string { return "Z:" + strings.ReplaceAll(p, "/", `\`) }

// Wine's reg.exe imports the rendered .reg file, first with delegation on,
// then off, and exports what its registry then holds: exactly the values the
// registry writer writes, with the delegation policy deleted again, the
// boolean a REG_DWORD, and the list subkey holding "1" only, although a
// longer list was there before. Then a .reg of the policy with nothing set
// leaves no policy value at all.
func TestRegFileThroughWine(t *testing.T) {
	run := wine(t)
	dir := t.TempDir()
	for _, key := range PolicyKeys {
		for _, n := range []string{"1", "2", "3"} {
			run("reg", "add", winreg.RootName+`\`+key+`\AutoSelectCertificateForUrls`, "/v", n, "/t", "REG_SZ", "/d", "stale "+n, "/f")
		}
	}
	for i, delegation := range []bool{true, false} {
		c := defaults(t, catalog.Subdomain)
		c.KerberosDelegation = delegation
		var reg []byte
		for _, f := range render(t, c) {
			if f.Path == RegFile {
				reg = f.Data
			}
		}
		file := filepath.Join(dir, fmt.Sprintf("kiwistack-%d.reg", i))
		if err := os.WriteFile(file, reg, 0o644); err != nil {
			t.Fatal(err)
		}
		run("reg", "import", winPath(file))
		vs, _ := RegistryValues(c, Options{})
		var store winreg.MemStore
		if err := winreg.Apply(&store, vs); err != nil {
			t.Fatal(err)
		}
		// Export the keys the agent owns (recursively) and the one value it
		// owns in RegisteredApplications, which other software shares.
		owned := append(append([]string(nil), PolicyKeys...), `SOFTWARE\Clients\StartMenuInternet\`+ClientName, `SOFTWARE\Classes\`+ProgID)
		got := map[string]winreg.Value{}
		for _, key := range append(owned, `SOFTWARE\RegisteredApplications`) {
			out := filepath.Join(dir, "export.reg")
			run("reg", "export", winreg.RootName+`\`+key, winPath(out), "/y")
			b, err := os.ReadFile(out)
			if err != nil {
				t.Fatal(err)
			}
			for id, v := range parseReg(t, utf16Text(t, b)) {
				if key == `SOFTWARE\RegisteredApplications` && !strings.EqualFold(v.Name, ClientName) {
					continue
				}
				got[id] = v
			}
		}
		if len(got) != len(store.Values) {
			t.Errorf("delegation %v: Wine holds %d values, the writer %d", delegation, len(got), len(store.Values))
		}
		for id, v := range store.Values {
			if got[id] != v {
				t.Errorf("delegation %v: %q: Wine %+v, writer %+v", delegation, id, got[id], v)
			}
		}
		for id := range got {
			if _, ok := store.Values[id]; !ok {
				t.Errorf("delegation %v: Wine holds %q, which the writer does not set", delegation, id)
			}
		}
	}
	unset, err := winreg.RegFile(PolicyValues(chromepolicy.Policy{}))
	if err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(dir, "unset.reg")
	if err := os.WriteFile(file, unset, 0o644); err != nil {
		t.Fatal(err)
	}
	run("reg", "import", winPath(file))
	for _, key := range PolicyKeys {
		out := filepath.Join(dir, "export.reg")
		run("reg", "export", winreg.RootName+`\`+key, winPath(out), "/y")
		b, err := os.ReadFile(out)
		if err != nil {
			t.Fatal(err)
		}
		if vals := parseReg(t, utf16Text(t, b)); len(vals) != 0 {
			t.Errorf("%s: nothing set, Wine still holds %v", key, vals)
		}
	}
}

// An unchanged catalog writes nothing; a launcher that leaves takes its two
// shortcuts and its icon with it.
func TestReconcile(t *testing.T) {
	c := defaults(t, catalog.Subdomain)
	root := t.TempDir()
	w := fileset.Writer{Root: root, Manifest: Manifest}
	if _, err := w.Apply(render(t, c)); err != nil {
		t.Fatal(err)
	}
	if res, err := w.Apply(render(t, c)); err != nil || len(res.Written) != 0 {
		t.Fatalf("unchanged: wrote %v (%v)", res.Written, err)
	}
	var kept []catalog.Launcher
	for _, l := range c.Launchers {
		if l.ID != "notes" {
			kept = append(kept, l)
		}
	}
	c.Launchers = kept
	res, err := w.Apply(render(t, c))
	want := []string{IconPath("notes"), StartMenuDir + "/Notes.lnk", DesktopDir + "/Notes.lnk"}
	// The dispatcher's state holds the catalog, so it changes with it.
	if err != nil || strings.Join(res.Written, "|") != DispatchState || strings.Join(res.Removed, "|") != strings.Join(want, "|") {
		t.Errorf("notes left: wrote %v, removed %v, want %v (%v)", res.Written, res.Removed, want, err)
	}
}

func TestShortcutNames(t *testing.T) {
	for name, want := range map[string]string{
		"Mail · Calendar · Contacts · Tasks": "Mail · Calendar · Contacts · Tasks.lnk",
		"Con":                                "KiwiStack Con.lnk",
		"nul.txt":                            "KiwiStack nul.txt.lnk",
		"COM1":                               "KiwiStack COM1.lnk",
		"Console":                            "Console.lnk",
		"Notes.":                             "Notes..lnk",
	} {
		if got := ShortcutName(&catalog.Launcher{Name: name}); got != want {
			t.Errorf("%q: %q, want %q", name, got, want)
		}
	}
	c := defaults(t, catalog.Subdomain)
	c.Launcher("wiki").Name = "MEET"
	if _, err := Render(c, Options{}); err == nil || !strings.Contains(err.Error(), "same file on Windows") {
		t.Errorf("case twins: %v", err)
	}
}

func TestCommandLine(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--app=https://x/", "--profile-directory=Work"}, "--app=https://x/ --profile-directory=Work"},
		{[]string{`C:\Program Files\KiwiStack\kiwistack-agent.exe`, "dispatch"}, `"C:\Program Files\KiwiStack\kiwistack-agent.exe" dispatch`},
		{[]string{`C:\a dir\`, ""}, `"C:\a dir\\" ""`},
	} {
		if got, err := CommandLine(tc.args...); err != nil || got != tc.want {
			t.Errorf("%q: %s (%v), want %s", tc.args, got, err, tc.want)
		}
	}
	for _, bad := range []string{`a"b`, "a\nb", "a\x00"} {
		if _, err := CommandLine(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
	if _, err := Render(defaults(t, catalog.Path), Options{Browser: "chrome.exe"}); err == nil {
		t.Errorf("a relative browser accepted")
	}
}

// BenchmarkRenderWindows is the full Windows render of the default catalog
// (12 shortcuts, six 7-size .ico files, the .reg file), without writing:
// issue 5 asks for at most 50 ms per OS.
func BenchmarkRenderWindows(b *testing.B) {
	c := defaults(b, catalog.Subdomain)
	for b.Loop() {
		if _, err := Render(c, Options{}); err != nil {
			b.Fatal(err)
		}
	}
}

// The default associations are well-formed XML to xmllint, and say that
// http and https open with the dispatcher's ProgID, which the registration
// runs as the agent's dispatch subcommand; the state the dispatcher reads
// holds the catalog, chrome.exe and the previous browser.
func TestDispatcherFiles(t *testing.T) {
	c := defaults(t, catalog.Path)
	files := map[string][]byte{}
	for _, f := range render(t, c) {
		files[f.Path] = f.Data
	}
	path := filepath.Join(t.TempDir(), "DefaultAssociations.xml")
	if err := os.WriteFile(path, files[DefaultAssociationsFile], 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := realtool.Run(t, "xmllint", "libxml2-utils", "--noout", path); err != nil || out != "" {
		t.Errorf("xmllint: %v\n%s", err, out)
	}
	var doc struct {
		Associations []struct {
			Identifier      string `xml:"Identifier,attr"`
			ProgID          string `xml:"ProgId,attr"`
			ApplicationName string `xml:"ApplicationName,attr"`
		} `xml:"Association"`
	}
	if err := xml.Unmarshal(files[DefaultAssociationsFile], &doc); err != nil || len(doc.Associations) != 2 {
		t.Fatalf("%v %+v", err, doc)
	}
	for i, scheme := range []string{"http", "https"} {
		if a := doc.Associations[i]; a.Identifier != scheme || a.ProgID != ProgID || a.ApplicationName != DispatcherName {
			t.Errorf("%+v", a)
		}
	}
	st, err := dispatch.ParseState(files[DispatchState])
	if err != nil || st.Browser != DefaultBrowser || !slices.Equal(st.Previous, []string{DefaultPrevious}) || st.Catalog.Routing != catalog.Path {
		t.Errorf("state %+v (%v)", st, err)
	}
	for _, tc := range []struct {
		o    Options
		want string
	}{
		{Options{}, `"C:\Program Files\KiwiStack\kiwistack-agent.exe" dispatch -- "%1"`},
		{Options{StateFile: WinPath(DispatchState)}, `"C:\Program Files\KiwiStack\kiwistack-agent.exe" dispatch -- "%1"`},
		{Options{Agent: `D:\KS\kiwistack-agent.exe`, StateFile: `D:\KS\state\dispatch.json`}, `D:\KS\kiwistack-agent.exe dispatch --state D:\KS\state\dispatch.json -- "%1"`},
	} {
		if got, err := DispatchCommand(tc.o); err != nil || got != tc.want {
			t.Errorf("%+v: %s (%v), want %s", tc.o, got, err, tc.want)
		}
	}
	for _, o := range []Options{{Agent: "kiwistack-agent.exe"}, {StateFile: `C:\a"b`}, {Previous: "msedge.exe"}} {
		if _, err := Render(c, o); err == nil {
			t.Errorf("%+v accepted", o)
		}
	}
}
