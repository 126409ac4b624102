package pkg

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
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

var testDate = time.Date(2026, 11, 28, 6, 0, 0, 0, time.UTC)

var (
	binOnce sync.Once
	binDir  string
	binErr  error
)

// darwinBinaries cross-compiles the real enroller and agent for darwin on
// amd64 and arm64 without cgo, piv-go through the purego overlay as
// scripts/cross does, once per test binary; it returns their directory
// (<arch>/<name>).
func darwinBinaries(t *testing.T) string {
	t.Helper()
	binOnce.Do(func() {
		binDir, binErr = os.MkdirTemp("", "kiwistack-pkg-bin-")
		if binErr != nil {
			return
		}
		out, err := exec.Command("../../scripts/pcsc-overlay", filepath.Join(binDir, "overlay")).Output()
		if err != nil {
			binErr = err
			return
		}
		overlay := strings.TrimSpace(string(out))
		for _, arch := range []string{"amd64", "arm64"} {
			for _, c := range []string{"kiwistack-enroll", "kiwistack-agent"} {
				cmd := exec.Command("go", "build", "-overlay", overlay, "-trimpath", "-ldflags=-s -w",
					"-o", filepath.Join(binDir, arch, c), "../../cmd/"+c)
				cmd.Env = append(os.Environ(), "GOOS=darwin", "GOARCH="+arch, "CGO_ENABLED=0")
				if out, err := cmd.CombinedOutput(); err != nil {
					binErr = &buildError{arch + "/" + c, string(out), err}
					return
				}
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

// buildTestPkg builds a universal package of the real binaries into dir.
func buildTestPkg(t *testing.T, describe, dir string) (string, *Built) {
	t.Helper()
	bins := darwinBinaries(t)
	p, b, err := BuildFile(Options{
		Describe:   describe,
		CommitTime: testDate,
		Enroll:     []string{filepath.Join(bins, "amd64/kiwistack-enroll"), filepath.Join(bins, "arm64/kiwistack-enroll")},
		Agent:      []string{filepath.Join(bins, "amd64/kiwistack-agent"), filepath.Join(bins, "arm64/kiwistack-agent")},
	}, dir)
	if err != nil {
		t.Fatal(err)
	}
	return p, b
}
