// Package powertest runs logind's side of the resume signal for tests: a
// private dbus-daemon and PrepareForSleep sent with dbus-send, as logind
// sends it. Tests of platform/power and of the agent's daemon use it; the
// product does not.
package powertest

import (
	"bufio"
	"os"
	"os/exec"
	"strings"
	"testing"
)

// StartBus starts a private dbus-daemon (Debian dbus-daemon) for the test
// and returns its address. Without dbus-daemon or dbus-send it skips, or
// fails when KIWISTACK_REQUIRE_HW_TESTS is set (make test, CI).
func StartBus(t testing.TB) string {
	t.Helper()
	for tool, pkg := range map[string]string{"dbus-daemon": "dbus-daemon", "dbus-send": "dbus-bin"} {
		if _, err := exec.LookPath(tool); err != nil {
			why := tool + " is not installed (Debian package " + pkg + "; scripts/install-test-deps)"
			if os.Getenv("KIWISTACK_REQUIRE_HW_TESTS") != "" {
				t.Fatal(why)
			}
			t.Skip(why)
		}
	}
	cmd := exec.Command("dbus-daemon", "--session", "--nofork", "--nopidfile", "--print-address=1")
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil {
		t.Fatalf("reading dbus-daemon's address: %v", err)
	}
	return strings.TrimSpace(line)
}

// PrepareForSleep sends logind's PrepareForSleep(going) on the bus at addr:
// true before a suspend, false after the resume.
func PrepareForSleep(t testing.TB, addr string, going bool) {
	t.Helper()
	arg := "boolean:false"
	if going {
		arg = "boolean:true"
	}
	out, err := exec.Command("dbus-send", "--bus="+addr, "--type=signal", "/org/freedesktop/login1",
		"org.freedesktop.login1.Manager.PrepareForSleep", arg).CombinedOutput()
	if err != nil {
		t.Fatalf("dbus-send: %v\n%s", err, out)
	}
}
