package msi

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
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

// requireTools is require for programs on PATH, given as name=package.
func requireTools(t *testing.T, tools ...string) {
	t.Helper()
	for _, np := range tools {
		name, pkg, _ := strings.Cut(np, "=")
		_, err := exec.LookPath(name)
		require(t, err == nil, name+" is not installed (Debian package "+pkg+")")
	}
}

var (
	binOnce sync.Once
	binDir  string
	binErr  error
)

// windowsBinaries cross-builds the real enroller and agent for
// windows/amd64 without cgo, as `make packages` does, once per test binary,
// and returns their directory.
func windowsBinaries(t *testing.T) string {
	t.Helper()
	binOnce.Do(func() {
		binDir, binErr = os.MkdirTemp("", "kiwistack-msi-bin-")
		if binErr != nil {
			return
		}
		for _, c := range []string{"kiwistack-enroll", "kiwistack-agent"} {
			cmd := exec.Command("go", "build", "-trimpath", "-ldflags=-s -w", "-o", filepath.Join(binDir, c+".exe"), "../../cmd/"+c)
			cmd.Env = append(os.Environ(), "GOOS=windows", "GOARCH=amd64", "CGO_ENABLED=0")
			if out, err := cmd.CombinedOutput(); err != nil {
				binErr = &buildError{c, string(out), err}
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
	return "building " + e.name + " for windows: " + e.err.Error() + "\n" + e.out
}

// msiTable runs msiinfo export and returns the table's rows (the three
// header lines dropped), each split at tabs.
func msiTable(t *testing.T, msi, table string) [][]string {
	t.Helper()
	out, err := exec.Command("msiinfo", "export", msi, table).Output()
	if err != nil {
		t.Fatalf("msiinfo export %s %s: %v", msi, table, err)
	}
	lines := strings.Split(strings.TrimRight(strings.ReplaceAll(string(out), "\r\n", "\n"), "\n"), "\n")
	if len(lines) < 3 {
		t.Fatalf("msiinfo export %s: %q", table, out)
	}
	var rows [][]string
	for _, l := range lines[3:] {
		rows = append(rows, strings.Split(l, "\t"))
	}
	return rows
}

// msiProperty returns a row of the Property table.
func msiProperty(t *testing.T, msi, name string) string {
	t.Helper()
	for _, r := range msiTable(t, msi, "Property") {
		if len(r) == 2 && r[0] == name {
			return r[1]
		}
	}
	t.Fatalf("%s has no property %s", msi, name)
	return ""
}
