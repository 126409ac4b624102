// Package realtool lets the launchers' tests run the real validators
// (desktop-file-validate, icns2png, icotool, plistutil, lnkinfo) on what the
// renderers produce. A missing tool skips the test with the Debian package
// to install, or fails it when KIWISTACK_REQUIRE_HW_TESTS=1 (make test sets
// it), so that CI and this machine never skip silently. It is for tests
// only and renders nothing.
package realtool

import (
	"bytes"
	"os"
	"os/exec"
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
