package power

import (
	"context"
	"testing"
	"time"
)

func TestJumpDetector(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	steps := []struct {
		name  string
		wall  time.Duration // since t0
		mono  time.Duration
		jumps bool
	}{
		{"first reading", 0, 0, false},
		{"a minute on both clocks", time.Minute, time.Minute, false},
		{"small drift (NTP slew)", 2*time.Minute + 2*time.Second, 2 * time.Minute, false},
		{"resume after eight hours of sleep", 8*time.Hour + 3*time.Minute, 3 * time.Minute, true},
		{"steady again", 8*time.Hour + 4*time.Minute, 4 * time.Minute, false},
		{"clock set back", 7 * time.Hour, 5 * time.Minute, true},
	}
	var d JumpDetector
	for _, s := range steps {
		t.Run(s.name, func(t *testing.T) {
			if got := d.Observe(t0.Add(s.wall), s.mono); got != s.jumps {
				t.Errorf("Observe(%s, %s) = %v, want %v", s.wall, s.mono, got, s.jumps)
			}
		})
	}
}

func TestNotifyCoalesces(t *testing.T) {
	ch := make(chan struct{}, 1)
	notify(ch)
	notify(ch) // must not block
	<-ch
	select {
	case <-ch:
		t.Fatal("two events queued, want them coalesced")
	default:
	}
}

func TestClockFallbackClosesOnCancel(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	ch := make(chan struct{}, 1)
	go watchClock(ctx, time.Hour, ch)
	cancel()
	select {
	case _, ok := <-ch:
		if ok {
			t.Fatal("an event without a jump")
		}
	case <-time.After(5 * time.Second):
		t.Fatal("channel not closed after cancel")
	}
}
