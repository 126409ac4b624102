package golden

import (
	"os"
	"path/filepath"
	"testing"
)

func TestCheck(t *testing.T) {
	path := filepath.Join(t.TempDir(), "a", "b.golden")
	Check(t, path, "b", []byte("one"), true)
	if b, err := os.ReadFile(path); err != nil || string(b) != "one" {
		t.Fatalf("update wrote %q, %v", b, err)
	}
	Check(t, path, "b", []byte("one"), false)

	inner := &testing.T{}
	done := make(chan struct{})
	go func() { defer close(done); Check(inner, path, "b", []byte("two"), false) }()
	<-done
	if !inner.Failed() {
		t.Error("a differing artefact did not fail the check")
	}
}
