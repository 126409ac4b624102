package e2e

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// binDir holds the binaries Main built for this test binary.
var binDir string

// Main builds the commands named (directories under cmd/, such as
// "kiwistack-api") into a temporary directory, runs the tests and removes
// the directory; it returns the exit code for os.Exit. A suite's TestMain is
// os.Exit(e2e.Main(m, "kiwistack-api", "kiwistack-enroll")).
func Main(m *testing.M, cmds ...string) int {
	dir, err := os.MkdirTemp("", "kiwistack-e2e-bin")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	args := []string{"build", "-o", dir + "/"}
	for _, c := range cmds {
		args = append(args, "github.com/kiwistack/endpoint/cmd/"+c)
	}
	cmd := exec.Command("go", args...)
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "building the binaries:", err)
		return 1
	}
	binDir = dir
	return m.Run()
}

// Bin returns the path of a binary Main built.
func Bin(name string) string {
	if binDir == "" {
		panic("e2e.Bin(" + name + ") before e2e.Main built the binaries")
	}
	return filepath.Join(binDir, name)
}

// Run runs a binary Main built with stdin as its input and returns its
// output and exit code; it fails the test when the binary cannot run.
func Run(t testing.TB, stdin, bin string, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	return RunIn(t, "", stdin, bin, args...)
}

// RunIn is Run in the network namespace ns (through `ip netns exec`), or
// in this one when ns is "".
func RunIn(t testing.TB, ns, stdin, bin string, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	cmd := exec.Command(Bin(bin), args...)
	if ns != "" {
		cmd = exec.Command("ip", append([]string{"netns", "exec", ns, Bin(bin)}, args...)...)
	}
	cmd.Stdin = strings.NewReader(stdin)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	if ee, ok := err.(*exec.ExitError); ok {
		return out.String(), errb.String(), ee.ExitCode()
	}
	if err != nil {
		t.Fatalf("running %s: %v", bin, err)
	}
	return out.String(), errb.String(), 0
}

// MustRun is Run that fails the test, showing both outputs, unless the
// binary exits 0; it returns the standard output.
func MustRun(t testing.TB, stdin, bin string, args ...string) string {
	t.Helper()
	return MustRunIn(t, "", stdin, bin, args...)
}

// MustRunIn is MustRun in the network namespace ns (see RunIn).
func MustRunIn(t testing.TB, ns, stdin, bin string, args ...string) string {
	t.Helper()
	out, errOut, code := RunIn(t, ns, stdin, bin, args...)
	if code != 0 {
		t.Fatalf("%s %s: exit %d\nstdout:\n%s\nstderr:\n%s", bin, strings.Join(args, " "), code, out, errOut)
	}
	return out
}
