package deb

import (
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
	"time"
)

// require skips the test with why, or fails it when
// KIWISTACK_REQUIRE_HW_TESTS=1 (make test, CI) says it must run.
func require(t *testing.T, ok bool, why string) {
	t.Helper()
	if ok {
		return
	}
	if os.Getenv("KIWISTACK_REQUIRE_HW_TESTS") == "1" {
		t.Fatalf("%s (KIWISTACK_REQUIRE_HW_TESTS=1: run make test-deps as root)", why)
	}
	t.Skip(why)
}

// requireTool is require for a program on PATH.
func requireTool(t *testing.T, name, pkg string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	require(t, err == nil, name+" is not installed (Debian package "+pkg+")")
	return p
}

var (
	binOnce sync.Once
	binDir  string
	binErr  error
)

// builtBinaries builds the real enroller (cgo) and agent (static) for the
// host, as `make build` does, once per test binary, and returns their
// directory.
func builtBinaries(t *testing.T) string {
	t.Helper()
	binOnce.Do(func() {
		binDir, binErr = os.MkdirTemp("", "kiwistack-deb-bin-")
		if binErr != nil {
			return
		}
		for _, c := range []struct{ name, cgo string }{{"kiwistack-enroll", "1"}, {"kiwistack-agent", "0"}} {
			cmd := exec.Command("go", "build", "-trimpath", "-ldflags=-s -w", "-o", filepath.Join(binDir, c.name), "../../cmd/"+c.name)
			cmd.Env = append(os.Environ(), "CGO_ENABLED="+c.cgo)
			if out, err := cmd.CombinedOutput(); err != nil {
				binErr = &buildError{c.name, string(out), err}
				return
			}
		}
	})
	if binErr != nil {
		t.Fatal(binErr)
	}
	return binDir
}

type buildError struct {
	name, out string
	err       error
}

func (e *buildError) Error() string {
	return "building " + e.name + ": " + e.err.Error() + "\n" + e.out
}

// buildTestDeb builds a package of the host's binaries at version into dir.
func buildTestDeb(t *testing.T, version, dir string) string {
	t.Helper()
	bins := builtBinaries(t)
	p, err := BuildFile(Options{
		Version:    version,
		Arch:       "amd64",
		Enroll:     filepath.Join(bins, "kiwistack-enroll"),
		Agent:      filepath.Join(bins, "kiwistack-agent"),
		CommitTime: time.Date(2026, 11, 28, 6, 0, 0, 0, time.UTC),
	}, dir)
	if err != nil {
		t.Fatal(err)
	}
	return p
}
