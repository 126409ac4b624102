package cpio

import (
	"bytes"
	"compress/gzip"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/kiwistack/endpoint/packaging/pkg/xar"
)

func requireTool(t *testing.T, name, pkg string) {
	t.Helper()
	if _, err := exec.LookPath(name); err != nil {
		if os.Getenv("KIWISTACK_REQUIRE_HW_TESTS") == "1" {
			t.Fatalf("%s is not installed (Debian package %s; make test-deps)", name, pkg)
		}
		t.Skipf("%s is not installed (Debian package %s)", name, pkg)
	}
}

var when = time.Date(2026, 11, 28, 6, 0, 0, 0, time.UTC)

type member struct {
	h    Header
	data string
}

var members = []member{
	{Header{Name: ".", Mode: TypeDir | 0o755, NLink: 2, MTime: when}, ""},
	{Header{Name: "./usr", Mode: TypeDir | 0o755, NLink: 2, MTime: when}, ""},
	{Header{Name: "./usr/bin x", Mode: TypeReg | 0o755, UID: 0, GID: 80, MTime: when}, "#!/bin/sh\necho hi\n"},
	{Header{Name: "./usr/link", Mode: TypeSymlink | 0o755, MTime: when}, "bin x"},
}

func archive(t *testing.T) []byte {
	t.Helper()
	var b bytes.Buffer
	w := NewWriter(&b)
	for _, m := range members {
		h := m.h
		h.Size = int64(len(m.data))
		if err := w.WriteHeader(&h); err != nil {
			t.Fatal(err)
		}
		if _, err := w.Write([]byte(m.data)); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if b.Len()%512 != 0 {
		t.Errorf("archive of %d bytes, not padded to 512", b.Len())
	}
	return b.Bytes()
}

// TestReaders has GNU cpio and libarchive's bsdcpio list and extract the
// archive: names, modes, owners, link target and content.
func TestReaders(t *testing.T) {
	a := archive(t)
	for _, tool := range []struct{ name, pkg string }{{"cpio", "cpio"}, {"bsdcpio", "libarchive-tools"}} {
		t.Run(tool.name, func(t *testing.T) {
			requireTool(t, tool.name, tool.pkg)
			cmd := exec.Command(tool.name, "-itv", "--numeric-uid-gid")
			cmd.Stdin = bytes.NewReader(a)
			out, err := cmd.CombinedOutput()
			if err != nil {
				t.Fatalf("%s -itv: %v\n%s", tool.name, err, out)
			}
			for _, want := range []string{"drwxr-xr-x", "-rwxr-xr-x   1 0        80             18", "./usr/bin x", "./usr/link -> bin x"} {
				if !strings.Contains(string(out), want) {
					t.Errorf("%s listing lacks %q:\n%s", tool.name, want, out)
				}
			}
			dir := t.TempDir()
			cmd = exec.Command(tool.name, "-id")
			cmd.Dir = dir
			cmd.Stdin = bytes.NewReader(a)
			if out, err := cmd.CombinedOutput(); err != nil {
				t.Fatalf("%s -id: %v\n%s", tool.name, err, out)
			}
			b, err := os.ReadFile(filepath.Join(dir, "usr/bin x"))
			if err != nil || string(b) != members[2].data {
				t.Errorf("extracted %q, %v", b, err)
			}
		})
	}
}

func TestWriterRefuses(t *testing.T) {
	for name, h := range map[string]Header{
		"device":   {Name: "./d", Mode: 0o020644},
		"dir data": {Name: "./d", Mode: TypeDir | 0o755, Size: 1},
		"no name":  {Mode: TypeReg},
		"big uid":  {Name: "./f", Mode: TypeReg, UID: 1 << 20},
	} {
		if err := NewWriter(&bytes.Buffer{}).WriteHeader(&h); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	w := NewWriter(&bytes.Buffer{})
	if err := w.WriteHeader(&Header{Name: "./f", Mode: TypeReg, Size: 3, MTime: when}); err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write([]byte("four")); err == nil {
		t.Error("wrote past the size")
	}
	if err := w.Close(); err == nil {
		t.Error("closed with data missing")
	}
}

// TestLikeApple writes the fixture's payload (Sample.pkg, made by Apple's
// tools) and gets Apple's archive byte for byte: headers, trailer, padding.
func TestLikeApple(t *testing.T) {
	f, err := os.Open("../testdata/apple/Sample.pkg")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	st, _ := f.Stat()
	x, err := xar.NewReader(f, st.Size())
	if err != nil {
		t.Fatal(err)
	}
	gz, err := x.ReadFile("base.pkg/Payload")
	if err != nil {
		t.Fatal(err)
	}
	zr, err := gzip.NewReader(bytes.NewReader(gz))
	if err != nil {
		t.Fatal(err)
	}
	apple, err := io.ReadAll(zr)
	if err != nil {
		t.Fatal(err)
	}
	mtime := time.Unix(0o13170156066, 0)
	var b bytes.Buffer
	w := NewWriter(&b)
	for _, m := range []member{
		{Header{Name: ".", Mode: TypeDir | 0o755, UID: 502, GID: 20, NLink: 3, MTime: mtime}, ""},
		{Header{Name: "./Applications", Mode: TypeDir | 0o755, UID: 502, GID: 20, NLink: 3, MTime: mtime}, ""},
		{Header{Name: "./Applications/hello.txt", Mode: TypeReg | 0o644, UID: 502, GID: 20, MTime: mtime}, "Hello, World!\n"},
	} {
		m.h.Size = int64(len(m.data))
		if err := w.WriteHeader(&m.h); err != nil {
			t.Fatal(err)
		}
		if _, err := w.Write([]byte(m.data)); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(b.Bytes(), apple) {
		t.Errorf("ours:\n%q\nApple's:\n%q", b.Bytes(), apple)
	}
}
