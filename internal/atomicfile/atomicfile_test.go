package atomicfile

import (
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"testing"
)

func TestWriteFile(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "key.pem")
	if err := WriteFile(p, []byte("one"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := WriteFile(p, []byte("two"), 0o600); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(p)
	if err != nil || string(b) != "two" {
		t.Fatalf("content = %q, %v; want two", b, err)
	}
	st, _ := os.Stat(p)
	if runtime.GOOS != "windows" && st.Mode().Perm() != 0o600 {
		t.Errorf("mode = %v, want 0600", st.Mode().Perm())
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Errorf("directory holds %d entries, want only the target (no temporary files left)", len(entries))
	}
}

func TestCreateRefusesExisting(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "secrets")
	if err := Create(p, []byte("first"), 0o600); err != nil {
		t.Fatal(err)
	}
	err := Create(p, []byte("second"), 0o600)
	if !errors.Is(err, ErrExists) {
		t.Fatalf("second Create: err = %v, want ErrExists", err)
	}
	b, _ := os.ReadFile(p)
	if string(b) != "first" {
		t.Errorf("content = %q, want the first write kept", b)
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Errorf("directory holds %d entries, want 1", len(entries))
	}
}

func TestWriteFileMissingDirectory(t *testing.T) {
	err := WriteFile(filepath.Join(t.TempDir(), "no", "such", "dir", "f"), []byte("x"), 0o600)
	if err == nil {
		t.Fatal("writing into a missing directory succeeded")
	}
}

func TestSame(t *testing.T) {
	p := filepath.Join(t.TempDir(), "f")
	if Same(p, []byte("x"), 0o600) {
		t.Error("a missing file is the same")
	}
	if err := WriteFile(p, []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	if !Same(p, []byte("x"), 0o600) {
		t.Error("the written file is not the same")
	}
	if Same(p, []byte("y"), 0o600) || Same(p, []byte("xx"), 0o600) {
		t.Error("other content is the same")
	}
	if runtime.GOOS != "windows" && Same(p, []byte("x"), 0o644) {
		t.Error("other permissions are the same")
	}
}
