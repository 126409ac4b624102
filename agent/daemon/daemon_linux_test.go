package daemon

import (
	"bufio"
	"context"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/kiwistack/endpoint/platform/power"
)

// TestResumeWakesLoop: logind's PrepareForSleep(false), sent with dbus-send
// on a private dbus-daemon, wakes the reconcile loop for a full pass.
func TestResumeWakesLoop(t *testing.T) {
	for _, tool := range []string{"dbus-daemon", "dbus-send"} {
		if _, err := exec.LookPath(tool); err != nil {
			if os.Getenv("KIWISTACK_REQUIRE_HW_TESTS") != "" {
				t.Fatalf("%s is not installed (scripts/install-test-deps)", tool)
			}
			t.Skipf("%s is not installed (scripts/install-test-deps)", tool)
		}
	}
	bus := exec.Command("dbus-daemon", "--session", "--nofork", "--nopidfile", "--print-address=1")
	out, err := bus.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := bus.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = bus.Process.Kill(); _ = bus.Wait() })
	addr, err := bufio.NewReader(out).ReadString('\n')
	if err != nil {
		t.Fatal(err)
	}
	addr = strings.TrimSpace(addr)

	d, c := start(t, Options{Root: t.TempDir(), Power: power.Options{BusAddress: addr}})
	s, err := c.Get(context.Background())
	if err != nil || s.Resume != string(power.SourceLogind) {
		t.Fatalf("status = %+v, %v; want resume from logind", s, err)
	}
	if d.Wakeups() != 0 {
		t.Fatalf("%d wake-ups before the resume", d.Wakeups())
	}
	if out, err := exec.Command("dbus-send", "--bus="+addr, "--type=signal", "/org/freedesktop/login1",
		"org.freedesktop.login1.Manager.PrepareForSleep", "boolean:false").CombinedOutput(); err != nil {
		t.Fatalf("dbus-send: %v\n%s", err, out)
	}
	for deadline := time.Now().Add(10 * time.Second); d.Wakeups() != 1; time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("wake-ups = %d after a resume, want 1", d.Wakeups())
		}
	}
}
