package power

import (
	"bufio"
	"context"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// require fails instead of skipping when KIWISTACK_REQUIRE_HW_TESTS is set
// (make test, CI).
func require(t *testing.T, ok bool, why string) {
	t.Helper()
	if ok {
		return
	}
	if os.Getenv("KIWISTACK_REQUIRE_HW_TESTS") != "" {
		t.Fatal(why)
	}
	t.Skip(why)
}

// startBus starts a private dbus-daemon (Debian dbus-daemon) and returns its
// address.
func startBus(t *testing.T) string {
	t.Helper()
	_, err := exec.LookPath("dbus-daemon")
	require(t, err == nil, "dbus-daemon is not installed (Debian package dbus-daemon; scripts/install-test-deps)")
	_, err = exec.LookPath("dbus-send")
	require(t, err == nil, "dbus-send is not installed (Debian package dbus-bin; scripts/install-test-deps)")
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

func prepareForSleep(t *testing.T, addr string, going bool) {
	t.Helper()
	arg := "boolean:false"
	if going {
		arg = "boolean:true"
	}
	out, err := exec.Command("dbus-send", "--bus="+addr, "--type=signal", logindPath,
		logindInterface+"."+logindMember, arg).CombinedOutput()
	if err != nil {
		t.Fatalf("dbus-send: %v\n%s", err, out)
	}
}

// TestLogindResume listens on a real dbus-daemon and sends logind's
// PrepareForSleep with dbus-send: true (going to sleep) is ignored, false
// (resumed) is delivered.
func TestLogindResume(t *testing.T) {
	addr := startBus(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	ch, src := Resumes(ctx, Options{BusAddress: addr, Interval: time.Hour})
	if src != SourceLogind {
		t.Fatalf("source = %s, want %s", src, SourceLogind)
	}
	prepareForSleep(t, addr, true)
	select {
	case <-ch:
		t.Fatal("PrepareForSleep(true) reported as a resume")
	case <-time.After(300 * time.Millisecond):
	}
	prepareForSleep(t, addr, false)
	select {
	case <-ch:
	case <-time.After(10 * time.Second):
		t.Fatal("no resume event after PrepareForSleep(false)")
	}
	cancel()
	for range ch { // closed after cancel
	}
}

// TestNoBusFallsBack: an address nobody listens on selects the jump detector.
func TestNoBusFallsBack(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	_, src := Resumes(ctx, Options{BusAddress: "unix:path=" + t.TempDir() + "/none", Interval: time.Hour})
	if src != SourceClockJump {
		t.Fatalf("source = %s, want %s", src, SourceClockJump)
	}
}
