package xar

import (
	"bytes"
	"compress/zlib"
	"encoding/binary"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// requireTool skips without the program, or fails when
// KIWISTACK_REQUIRE_HW_TESTS=1 (make test, CI) says it must run.
func requireTool(t *testing.T, name, pkg string) {
	t.Helper()
	if _, err := exec.LookPath(name); err != nil {
		if os.Getenv("KIWISTACK_REQUIRE_HW_TESTS") == "1" {
			t.Fatalf("%s is not installed (Debian package %s; make test-deps)", name, pkg)
		}
		t.Skipf("%s is not installed (Debian package %s)", name, pkg)
	}
}

const fixture = "../testdata/apple/Sample.pkg"

func open(t testing.TB, b []byte) *Reader {
	t.Helper()
	x, err := NewReader(bytes.NewReader(b), int64(len(b)))
	if err != nil {
		t.Fatal(err)
	}
	return x
}

// TestReadApple reads the package made by Apple's tools.
func TestReadApple(t *testing.T) {
	b, err := os.ReadFile(fixture)
	if err != nil {
		t.Fatal(err)
	}
	x := open(t, b)
	var names []string
	for _, e := range x.Entries {
		names = append(names, e.Name+":"+e.Type)
	}
	want := "Distribution:file Resources:directory Resources/en.lproj:directory base.pkg:directory base.pkg/Bom:file base.pkg/PackageInfo:file base.pkg/Payload:file"
	if strings.Join(names, " ") != want {
		t.Errorf("entries %v, want %s", names, want)
	}
	bom, err := x.ReadFile("base.pkg/Bom")
	if err != nil || len(bom) != 35201 || string(bom[:8]) != "BOMStore" {
		t.Errorf("Bom: %d bytes, %v", len(bom), err)
	}
	if _, err := x.ReadFile("base.pkg"); err == nil {
		t.Error("read a directory as a file")
	}
}

var when = time.Date(2026, 11, 28, 6, 0, 0, 0, time.UTC)

func sample() []File {
	return []File{
		{Name: "Distribution", Mode: 0o644, User: "root", Group: "wheel", MTime: when, Data: []byte("<installer-gui-script/>\n")},
		{Name: "a.pkg", Dir: true, Mode: 0o755, MTime: when},
		{Name: "a.pkg/Payload", Mode: 0o644, MTime: when, Data: bytes.Repeat([]byte("payload"), 1000)},
		{Name: "a.pkg/PackageInfo", Mode: 0o644, MTime: when, Data: []byte("<pkg-info/>")},
		{Name: "b/c/deep", Mode: 0o600, MTime: when, Data: nil},
	}
}

func write(t testing.TB, files []File) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := Write(&buf, files, when); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// TestWriteLikeApple compares the header and the TOC's choices with the
// fixture's: SHA-1 for the TOC (heap offset 0, 20 bytes) and for every
// file, data stored as application/octet-stream.
func TestWriteLikeApple(t *testing.T) {
	apple, err := os.ReadFile(fixture)
	if err != nil {
		t.Fatal(err)
	}
	ours := write(t, sample())
	for name, b := range map[string][]byte{"Apple's": apple, "ours": ours} {
		if got := binary.BigEndian.Uint16(b[4:]); got != 28 {
			t.Errorf("%s header size %d", name, got)
		}
		if got := binary.BigEndian.Uint32(b[24:]); got != 1 {
			t.Errorf("%s checksum algorithm %d, want 1 (SHA-1)", name, got)
		}
		toc := string(open(t, b).TOC)
		for _, want := range []string{`<checksum style="sha1">`, "<offset>0</offset>", "<size>20</size>",
			`<encoding style="application/octet-stream"`, `<extracted-checksum style="sha1">`, `<archived-checksum style="sha1">`} {
			if !strings.Contains(toc, want) {
				t.Errorf("%s TOC lacks %s", name, want)
			}
		}
	}
}

// TestRoundTrip reads back what Write wrote.
func TestRoundTrip(t *testing.T) {
	x := open(t, write(t, sample()))
	for _, f := range sample() {
		if f.Dir {
			continue
		}
		got, err := x.ReadFile(f.Name)
		if err != nil || !bytes.Equal(got, f.Data) {
			t.Errorf("%s: %q, %v", f.Name, got, err)
		}
	}
	if len(x.Entries) != 7 { // 5 given, b and b/c made
		t.Errorf("entries: %+v", x.Entries)
	}
}

// TestBsdtar has libarchive's xar reader list and extract the archive.
func TestBsdtar(t *testing.T) {
	requireTool(t, "bsdtar", "libarchive-tools")
	dir := t.TempDir()
	p := filepath.Join(dir, "t.xar")
	if err := os.WriteFile(p, write(t, sample()), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command("bsdtar", "-tf", p).CombinedOutput()
	if err != nil {
		t.Fatalf("bsdtar -tf: %v\n%s", err, out)
	}
	if got, want := strings.Fields(string(out)), "Distribution a.pkg a.pkg/Payload a.pkg/PackageInfo b b/c b/c/deep"; strings.Join(got, " ") != want {
		t.Errorf("bsdtar lists %v, want %s", got, want)
	}
	x := filepath.Join(dir, "x")
	if err := os.Mkdir(x, 0o755); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("bsdtar", "-xf", p, "-C", x).CombinedOutput(); err != nil {
		t.Fatalf("bsdtar -xf: %v\n%s", err, out)
	}
	for _, f := range sample() {
		if f.Dir {
			continue
		}
		b, err := os.ReadFile(filepath.Join(x, f.Name))
		if err != nil || !bytes.Equal(b, f.Data) {
			t.Errorf("bsdtar extracted %s: %d bytes, %v", f.Name, len(b), err)
		}
		st, _ := os.Stat(filepath.Join(x, f.Name))
		if st != nil && st.Mode().Perm() != f.Mode {
			t.Errorf("%s: mode %o, want %o", f.Name, st.Mode().Perm(), f.Mode)
		}
	}
}

func TestWriteRefuses(t *testing.T) {
	for _, name := range []string{"", ".", "/abs", "a/../b", "a//b"} {
		if err := Write(io.Discard, []File{{Name: name}}, when); err == nil {
			t.Errorf("wrote member %q", name)
		}
	}
}

// TestReaderRefuses: a changed member or TOC is detected.
func TestReaderRefuses(t *testing.T) {
	b := write(t, sample())
	// Flip a byte of the last member's data (the heap ends with it).
	bad := append([]byte(nil), b...)
	i := bytes.LastIndex(bad, []byte("<pkg-info/>"))
	bad[i] ^= 1
	if _, err := open(t, bad).ReadFile("a.pkg/PackageInfo"); err == nil {
		t.Error("a changed member was read")
	}
	// Replace the TOC by another one with a consistent header: its checksum no longer matches.
	var z bytes.Buffer
	zw := zlib.NewWriter(&z)
	toc := []byte(`<?xml version="1.0"?><xar><toc><checksum style="sha1"><offset>0</offset><size>20</size></checksum></toc></xar>`)
	zw.Write(toc)
	zw.Close()
	forged := append([]byte(nil), b[:28]...)
	binary.BigEndian.PutUint64(forged[8:], uint64(z.Len()))
	binary.BigEndian.PutUint64(forged[16:], uint64(len(toc)))
	forged = append(forged, z.Bytes()...)
	forged = append(forged, make([]byte, 20)...)
	if _, err := NewReader(bytes.NewReader(forged), int64(len(forged))); err == nil {
		t.Error("a TOC with a wrong checksum was accepted")
	}
}

// FuzzNewReader: the reader never panics, and what it accepts it can read.
func FuzzNewReader(f *testing.F) {
	apple, err := os.ReadFile(fixture)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(apple)
	f.Add(write(f, sample()))
	f.Fuzz(func(t *testing.T, b []byte) {
		x, err := NewReader(bytes.NewReader(b), int64(len(b)))
		if err != nil {
			return
		}
		for _, e := range x.Entries {
			_, _ = x.ReadFile(e.Name)
		}
	})
}
