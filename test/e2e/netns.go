package e2e

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/kiwistack/endpoint/test/pcsctest"
)

// NetnsMissing says what this machine lacks for a test of network
// namespaces and TUN devices (root, /dev/net/tun, ip(8), ping(8)), as
// "<what> needs …", or "" when it lacks nothing.
func NetnsMissing(what string) string {
	var m []string
	if os.Geteuid() != 0 {
		m = append(m, "root (network namespaces and TUN devices)")
	}
	if _, err := os.Stat("/dev/net/tun"); err != nil {
		m = append(m, "/dev/net/tun")
	}
	for _, tool := range []string{"ip", "ping"} {
		if _, err := exec.LookPath(tool); err != nil {
			m = append(m, tool+" in PATH (scripts/install-test-deps)")
		}
	}
	if len(m) == 0 {
		return ""
	}
	return what + " needs " + strings.Join(m, ", ")
}

// RequireNetns skips the test with NetnsMissing's reason, or fails it
// when KIWISTACK_REQUIRE_HW_TESTS=1, unless the machine has all it needs.
func RequireNetns(t testing.TB, what string) {
	t.Helper()
	reason := NetnsMissing(what)
	if reason == "" {
		return
	}
	if os.Getenv(pcsctest.RequireEnv) == "1" {
		t.Fatal(reason + ", and " + pcsctest.RequireEnv + "=1")
	}
	t.Skip(reason)
}

// CommandErr runs a command with a 30 s timeout and returns its combined
// output.
func CommandErr(name string, args ...string) ([]byte, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	return exec.CommandContext(ctx, name, args...).CombinedOutput()
}

// Command is CommandErr that fails the test, showing the output, when the
// command fails; it returns the combined output.
func Command(t testing.TB, name string, args ...string) string {
	t.Helper()
	out, err := CommandErr(name, args...)
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return string(out)
}

// AddNetns creates the network namespace ns with its loopback up, and
// deletes it at cleanup, which also destroys every interface in it.
func AddNetns(t testing.TB, ns string) {
	t.Helper()
	Command(t, "ip", "netns", "add", ns)
	t.Cleanup(func() {
		if out, err := CommandErr("ip", "netns", "del", ns); err != nil {
			t.Errorf("deleting netns %s: %v\n%s", ns, err, out)
		}
	})
	Command(t, "ip", "-n", ns, "link", "set", "lo", "up")
}

// Veth joins the namespaces nsA and nsB with a veth pair, ifA in nsA with
// the address addrA (CIDR) and ifB in nsB with addrB, both up.
func Veth(t testing.TB, nsA, ifA, addrA, nsB, ifB, addrB string) {
	t.Helper()
	Command(t, "ip", "link", "add", ifA, "netns", nsA, "type", "veth", "peer", "name", ifB, "netns", nsB)
	Command(t, "ip", "-n", nsA, "addr", "add", addrA, "dev", ifA)
	Command(t, "ip", "-n", nsB, "addr", "add", addrB, "dev", ifB)
	Command(t, "ip", "-n", nsA, "link", "set", ifA, "up")
	Command(t, "ip", "-n", nsB, "link", "set", ifB, "up")
}

// Ping pings addr once from ns, waiting up to wait (whole seconds) for
// the reply. The error wraps ping's *exec.ExitError: exit code 1 means no
// reply came, 2 any other error.
func Ping(ns, addr string, wait time.Duration) error {
	out, err := CommandErr("ip", "netns", "exec", ns, "ping", "-c", "1", "-W", strconv.Itoa(int(wait/time.Second)), addr)
	if err != nil {
		return fmt.Errorf("%w: %s", err, strings.TrimSpace(string(out)))
	}
	return nil
}
