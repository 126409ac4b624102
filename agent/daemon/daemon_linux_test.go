package daemon

import (
	"context"
	"testing"
	"time"

	"github.com/kiwistack/endpoint/platform/power"
	"github.com/kiwistack/endpoint/platform/power/powertest"
)

// TestResumeWakesLoop: logind's PrepareForSleep(false), sent with dbus-send
// on a private dbus-daemon, wakes the reconcile loop for a full pass.
func TestResumeWakesLoop(t *testing.T) {
	addr := powertest.StartBus(t)

	d, c := start(t, Options{Root: t.TempDir(), Power: power.Options{BusAddress: addr}})
	s, err := c.Get(context.Background())
	if err != nil || s.Resume != string(power.SourceLogind) {
		t.Fatalf("status = %+v, %v; want resume from logind", s, err)
	}
	if d.Wakeups() != 0 {
		t.Fatalf("%d wake-ups before the resume", d.Wakeups())
	}
	powertest.PrepareForSleep(t, addr, false)
	for deadline := time.Now().Add(10 * time.Second); d.Wakeups() != 1; time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("wake-ups = %d after a resume, want 1", d.Wakeups())
		}
	}
}
