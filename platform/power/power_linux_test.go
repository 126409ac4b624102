package power

import (
	"context"
	"testing"
	"time"

	"github.com/kiwistack/endpoint/platform/power/powertest"
)

// TestLogindResume listens on a real dbus-daemon and sends logind's
// PrepareForSleep with dbus-send: true (going to sleep) is ignored, false
// (resumed) is delivered.
func TestLogindResume(t *testing.T) {
	addr := powertest.StartBus(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	ch, src := Resumes(ctx, Options{BusAddress: addr, Interval: time.Hour})
	if src != SourceLogind {
		t.Fatalf("source = %s, want %s", src, SourceLogind)
	}
	powertest.PrepareForSleep(t, addr, true)
	select {
	case <-ch:
		t.Fatal("PrepareForSleep(true) reported as a resume")
	case <-time.After(300 * time.Millisecond):
	}
	powertest.PrepareForSleep(t, addr, false)
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
