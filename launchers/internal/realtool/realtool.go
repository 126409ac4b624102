// Package realtool lets the launchers' tests run the real validators
// (desktop-file-validate, icns2png, icotool, plistutil, lnkinfo, shellcheck,
// xmllint, Wine's reg) on what the renderers produce. A missing tool skips the test with the Debian package
// to install, or fails it when KIWISTACK_REQUIRE_HW_TESTS=1 (make test sets
// it), so that CI and this machine never skip silently. It is for tests
// only and renders nothing.
package realtool

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// Require returns the path of tool, or ends the test: a skip naming the
// Debian package, or a failure when KIWISTACK_REQUIRE_HW_TESTS=1.
func Require(t testing.TB, tool, debianPackage string) string {
	t.Helper()
	path, err := exec.LookPath(tool)
	if err == nil {
		return path
	}
	why := tool + " is not installed (Debian package " + debianPackage + "; scripts/install-test-deps installs it)"
	if os.Getenv("KIWISTACK_REQUIRE_HW_TESTS") == "1" {
		t.Fatal(why + " (KIWISTACK_REQUIRE_HW_TESTS=1 forbids skipping)")
	}
	t.Skip(why + " (set KIWISTACK_REQUIRE_HW_TESTS=1 to fail instead)")
	return ""
}

// Run runs tool with args (never through a shell) and returns its standard
// output and standard error together, and its error.
func Run(t testing.TB, tool, debianPackage string, args ...string) (string, error) {
	t.Helper()
	path := Require(t, tool, debianPackage)
	var out bytes.Buffer
	cmd := exec.Command(path, args...)
	cmd.Stdout = &out
	cmd.Stderr = &out
	err := cmd.Run()
	return out.String(), err
}

// PlistRoundTrip has plistutil (libplist-utils) parse the XML property list
// data and write it as a binary plist, then parse that and write it as XML
// again, and returns the second XML. A caller decodes both and compares:
// equal values mean plistutil read every key and value as written.
func PlistRoundTrip(t testing.TB, data []byte) []byte {
	t.Helper()
	dir := t.TempDir()
	in, bin, out := filepath.Join(dir, "in.plist"), filepath.Join(dir, "out.bplist"), filepath.Join(dir, "out.plist")
	if err := os.WriteFile(in, data, 0o644); err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{{"-i", in, "-o", bin, "-f", "bin"}, {"-i", bin, "-o", out, "-f", "xml"}} {
		if msg, err := Run(t, "plistutil", "libplist-utils", args...); err != nil {
			t.Fatalf("plistutil %v: %v\n%s", args, err, msg)
		}
	}
	b, err := os.ReadFile(bin)
	if err != nil || len(b) < 8 || string(b[:8]) != "bplist00" {
		t.Fatalf("plistutil wrote no binary plist: %v %q", err, b[:min(len(b), 8)])
	}
	again, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	return again
}

// RequireRoot ends the test unless it runs as root: a skip saying why root
// is needed, or a failure when KIWISTACK_REQUIRE_HW_TESTS=1.
func RequireRoot(t testing.TB, why string) {
	t.Helper()
	if os.Geteuid() == 0 {
		return
	}
	msg := "needs root: " + why
	if os.Getenv("KIWISTACK_REQUIRE_HW_TESTS") == "1" {
		t.Fatal(msg + " (KIWISTACK_REQUIRE_HW_TESTS=1 forbids skipping)")
	}
	t.Skip(msg + " (set KIWISTACK_REQUIRE_HW_TESTS=1 to fail instead)")
}

// Artefacts returns the directory a test leaves files for people in
// (screenshots): $KIWISTACK_TEST_ARTEFACTS/<test name> when that is set,
// else a temporary directory removed after the test.
func Artefacts(t testing.TB) string {
	t.Helper()
	base := os.Getenv("KIWISTACK_TEST_ARTEFACTS")
	if base == "" {
		return t.TempDir()
	}
	dir := filepath.Join(base, strings.ReplaceAll(t.Name(), "/", "_"))
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}
