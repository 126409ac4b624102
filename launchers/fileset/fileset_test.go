package fileset

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

const manifestPath = "var/lib/kiwistack/launchers/linux.json"

func set(files ...string) Set {
	var s Set
	for i := 0; i+1 < len(files); i += 2 {
		s = append(s, File{Path: files[i], Data: []byte(files[i+1]), Mode: 0o644})
	}
	return s
}

// backdate sets every file's mtime under root to an hour ago, so that a
// rewrite shows up in the mtime whatever the file system's resolution.
func backdate(t *testing.T, root string) time.Time {
	t.Helper()
	past := time.Now().Add(-time.Hour).Truncate(time.Second)
	err := filepath.Walk(root, func(p string, info os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		if info.Mode().IsRegular() {
			return os.Chtimes(p, past, past)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return past
}

func mtime(t *testing.T, p string) time.Time {
	t.Helper()
	st, err := os.Stat(p)
	if err != nil {
		t.Fatal(err)
	}
	return st.ModTime()
}

func TestApplyUnchangedChangedRemoved(t *testing.T) {
	root := t.TempDir()
	w := Writer{Root: root, Manifest: manifestPath}
	first := set(
		"usr/share/applications/kiwistack-mail.desktop", "mail v1",
		"usr/share/applications/kiwistack-wiki.desktop", "wiki v1",
		"etc/chromium/policies/managed/kiwistack.json", "{}\n",
	)
	res, err := w.Apply(first)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Written) != 3 || len(res.Unchanged) != 0 {
		t.Fatalf("first apply: %+v", res)
	}
	for _, f := range first {
		b, err := os.ReadFile(filepath.Join(root, f.Path))
		if err != nil || string(b) != string(f.Data) {
			t.Errorf("%s: %q, %v", f.Path, b, err)
		}
		st, _ := os.Stat(filepath.Join(root, f.Path))
		if st.Mode().Perm() != 0o644 {
			t.Errorf("%s: mode %v", f.Path, st.Mode())
		}
	}

	// The same set again: nothing is written, no mtime moves, the manifest
	// included.
	past := backdate(t, root)
	res, err = w.Apply(first)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Written) != 0 || len(res.Removed) != 0 || len(res.Unchanged) != 3 {
		t.Errorf("second apply: %+v", res)
	}
	for _, p := range []string{first[0].Path, first[1].Path, first[2].Path, manifestPath} {
		if !mtime(t, filepath.Join(root, p)).Equal(past) {
			t.Errorf("%s was rewritten", p)
		}
	}

	// A foreign file beside ours is never touched.
	foreign := filepath.Join(root, "usr/share/applications/firefox.desktop")
	if err := os.WriteFile(foreign, []byte("theirs"), 0o644); err != nil {
		t.Fatal(err)
	}
	// Mail changes, wiki leaves the catalog, notes joins.
	second := set(
		"usr/share/applications/kiwistack-mail.desktop", "mail v2",
		"usr/share/applications/kiwistack-notes.desktop", "notes v1",
		"etc/chromium/policies/managed/kiwistack.json", "{}\n",
	)
	res, err = w.Apply(second)
	if err != nil {
		t.Fatal(err)
	}
	want := Result{
		Written:   []string{"usr/share/applications/kiwistack-mail.desktop", "usr/share/applications/kiwistack-notes.desktop"},
		Unchanged: []string{"etc/chromium/policies/managed/kiwistack.json"},
		Removed:   []string{"usr/share/applications/kiwistack-wiki.desktop"},
	}
	if !reflect.DeepEqual(res, want) {
		t.Errorf("third apply:\n got %+v\nwant %+v", res, want)
	}
	if _, err := os.Stat(filepath.Join(root, "usr/share/applications/kiwistack-wiki.desktop")); !os.IsNotExist(err) {
		t.Errorf("wiki is still there: %v", err)
	}
	if b, err := os.ReadFile(foreign); err != nil || string(b) != "theirs" {
		t.Errorf("foreign file touched: %q %v", b, err)
	}
	if !mtime(t, filepath.Join(root, "etc/chromium/policies/managed/kiwistack.json")).Equal(past) {
		t.Errorf("the unchanged policy was rewritten")
	}
	m, _ := os.ReadFile(filepath.Join(root, manifestPath))
	if strings.Contains(string(m), "wiki") || !strings.Contains(string(m), "notes") {
		t.Errorf("manifest:\n%s", m)
	}
}

func TestApplyModeChangeRewrites(t *testing.T) {
	root := t.TempDir()
	w := Writer{Root: root, Manifest: manifestPath}
	if _, err := w.Apply(Set{{Path: "a/b", Data: []byte("x"), Mode: 0o600}}); err != nil {
		t.Fatal(err)
	}
	res, err := w.Apply(Set{{Path: "a/b", Data: []byte("x"), Mode: 0o644}})
	if err != nil || len(res.Written) != 1 {
		t.Fatalf("%+v %v", res, err)
	}
	if st, _ := os.Stat(filepath.Join(root, "a/b")); st.Mode().Perm() != 0o644 {
		t.Errorf("mode %v", st.Mode())
	}
}

// A file someone edited after the agent wrote it is left in place when it
// leaves the set, and stays in the manifest.
func TestApplyKeepsEditedFiles(t *testing.T) {
	root := t.TempDir()
	w := Writer{Root: root, Manifest: manifestPath}
	if _, err := w.Apply(set("x/ours", "1", "x/edited", "2")); err != nil {
		t.Fatal(err)
	}
	edited := filepath.Join(root, "x/edited")
	if err := os.WriteFile(edited, []byte("admin's change"), 0o644); err != nil {
		t.Fatal(err)
	}
	res, err := w.Apply(set("x/ours", "1"))
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(res.Kept, []string{"x/edited"}) || len(res.Removed) != 0 {
		t.Errorf("%+v", res)
	}
	if b, _ := os.ReadFile(edited); string(b) != "admin's change" {
		t.Errorf("edited file changed: %q", b)
	}
	m, _ := os.ReadFile(filepath.Join(root, manifestPath))
	if !strings.Contains(string(m), "x/edited") {
		t.Errorf("kept file left the manifest:\n%s", m)
	}
}

// A tampered manifest cannot make the writer delete outside the root or
// the manifest itself.
func TestApplyIgnoresHostileManifest(t *testing.T) {
	parent := t.TempDir()
	root := filepath.Join(parent, "root")
	victim := filepath.Join(parent, "victim")
	if err := os.WriteFile(victim, []byte("v"), 0o644); err != nil {
		t.Fatal(err)
	}
	mp := filepath.Join(root, manifestPath)
	if err := os.MkdirAll(filepath.Dir(mp), 0o755); err != nil {
		t.Fatal(err)
	}
	hostile := `{"version":1,"files":[{"path":"../victim","sha256":"4c94485e0c21ae6c41ce1dfe7b6bfaceea5ab68e40a2476f50208e526f506080"},{"path":"/etc/passwd","sha256":"x"}]}`
	if err := os.WriteFile(mp, []byte(hostile), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := (Writer{Root: root, Manifest: manifestPath}).Apply(set("a", "b")); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(victim); err != nil {
		t.Errorf("file outside the root removed: %v", err)
	}
}

func TestApplyRejects(t *testing.T) {
	root := t.TempDir()
	w := Writer{Root: root, Manifest: manifestPath}
	for _, s := range []Set{
		set("../escape", "x"),
		set("/abs", "x"),
		set("a//b", "x"),
		set("a/./b", "x"),
		set(" a", "x"),
		set("a /b", "x"),
		set("a\\b", "x"),
		set("C:/x", "x"),
		set("a\tb", "x"),
		set("a\u202eb", "x"), // bidi override
		set("a\xffb", "x"),
		set("a\u2215b", "x"), // division slash, a look-alike separator
		set("a", "1", "a", "2"),
		set(manifestPath, "x"),
	} {
		if _, err := w.Apply(s); err == nil {
			t.Errorf("%q accepted", s[0].Path)
		}
	}
	if _, err := (Writer{Manifest: manifestPath}).Apply(nil); err == nil {
		t.Errorf("empty root accepted")
	}
	if err := os.WriteFile(filepath.Join(root, "garbage"), []byte("{"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := (Writer{Root: root, Manifest: "garbage"}).Apply(nil); err == nil {
		t.Errorf("unreadable manifest accepted")
	}
}

// Paths with inner spaces and launcher names (letters beyond ASCII, the
// middle dot) are what the macOS and Windows sets need.
func TestValidPathAccepts(t *testing.T) {
	for _, p := range []string{
		"Library/Managed Preferences/org.chromium.Chromium.plist",
		"ProgramData/Microsoft/Windows/Start Menu/Programs/KiwiStack/Mail · Calendar · Contacts · Tasks.lnk",
		"Applications/KiwiStack/Fichiers partagés.app/Contents/Info.plist",
		"Program Files/KiwiStack/icons/kiwistack-mail.ico",
	} {
		if err := ValidPath(p); err != nil {
			t.Errorf("%v", err)
		}
	}
}

// A file that leaves the set takes the directories it leaves empty with it,
// up to the owned directory, and no further; outside owned directories
// empty directories stay.
func TestApplyPrunesOwnedDirectories(t *testing.T) {
	root := t.TempDir()
	owned := "Applications/KiwiStack"
	w := Writer{Root: root, Manifest: manifestPath, Owned: []string{owned}}
	if _, err := w.Apply(set(
		owned+"/Mail.app/Contents/Info.plist", "m",
		owned+"/Mail.app/Contents/MacOS/kiwistack-mail", "m",
		owned+"/Wiki.app/Contents/Info.plist", "w",
		"usr/share/applications/kiwistack-wiki.desktop", "w",
	)); err != nil {
		t.Fatal(err)
	}
	res, err := w.Apply(set(owned+"/Wiki.app/Contents/Info.plist", "w"))
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Removed) != 3 {
		t.Errorf("removed %v", res.Removed)
	}
	if _, err := os.Stat(filepath.Join(root, owned, "Mail.app")); !os.IsNotExist(err) {
		t.Errorf("the emptied bundle is still there: %v", err)
	}
	for _, d := range []string{owned, owned + "/Wiki.app/Contents", "usr/share/applications"} {
		if st, err := os.Stat(filepath.Join(root, d)); err != nil || !st.IsDir() {
			t.Errorf("%s: %v", d, err)
		}
	}
}
