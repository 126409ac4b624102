package renew

import (
	"context"
	"crypto"
	"crypto/tls"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestCADownThenBack: the CA goes away at the renewal point; every attempt
// fails as transient, the delays double and then cap, the failure is logged
// once, the stored certificate stays; when the CA is back on the same
// address the next attempt renews.
func TestCADownThenBack(t *testing.T) {
	c := newTestCA(t)
	cur := c.enroll(t, 2*time.Minute)
	path := filepath.Join(t.TempDir(), "device.crt")
	if err := WriteChain(path, cur); err != nil {
		t.Fatal(err)
	}
	before, _ := os.ReadFile(path)
	clock := &fakeClock{}
	clock.Set(cur.Leaf.NotAfter.Add(-40 * time.Second))
	var logs logBuffer
	var swapped int
	r, err := NewRenewer(Config{
		Client: c.client(t), CertPath: path, Now: clock.Now, Logger: logs.logger(),
		Policy:  Policy{BackoffMin: time.Second, BackoffMax: 4 * time.Second},
		OnRenew: func(tls.Certificate) { swapped++ },
	}, cur)
	if err != nil {
		t.Fatal(err)
	}
	c.stop()

	var delays []time.Duration
	for range 6 {
		now := clock.Now()
		next, err := r.Step(context.Background())
		if !errors.Is(err, ErrTransient) {
			t.Fatalf("Step with the CA down = %v, want ErrTransient", err)
		}
		delays = append(delays, next.Sub(now))
		clock.Set(next)
	}
	bases := []time.Duration{1, 2, 4, 4, 4, 4}
	for i, d := range delays {
		base := bases[i] * time.Second
		if d < base*3/4 || d > base {
			t.Errorf("delay %d = %s, want in [%s, %s]", i+1, d, base*3/4, base)
		}
	}
	if st := r.Status(); st.State != StateRetrying || st.Failures != 6 {
		t.Errorf("status = %+v, want retrying after 6 failures", st)
	}
	if n := strings.Count(logs.String(), "certificate renewal failed"); n != 1 {
		t.Errorf("repeated failure logged %d times, want once:\n%s", n, logs.String())
	}
	if after, _ := os.ReadFile(path); string(after) != string(before) {
		t.Fatal("a failed renewal changed the stored certificate")
	}

	c.start(t, c.addr)
	time.Sleep(1100 * time.Millisecond) // a later NotAfter, at one-second resolution
	clock.Set(cur.Leaf.NotAfter.Add(-10 * time.Second))
	if _, err := r.Step(context.Background()); err != nil {
		t.Fatalf("Step with the CA back: %v", err)
	}
	checkRenewed(t, c, cur, r.Certificate())
	leaf := r.Certificate().Leaf
	life := leaf.NotAfter.Sub(leaf.NotBefore)
	latest := leaf.NotAfter.Add(-life / 3)
	if st := r.Status(); st.State != StateValid || st.Failures != 0 || st.Next.After(latest) || st.Next.Before(latest.Add(-life/20)) {
		t.Errorf("status after renewal = %+v, want valid, next renewal scheduled for the new certificate", st)
	}
	stored, err := LoadCertificate(path, r.Certificate().PrivateKey.(crypto.Signer))
	if err != nil || !stored.Leaf.Equal(r.Certificate().Leaf) {
		t.Errorf("stored certificate is not the renewed one: %v", err)
	}
	if swapped != 1 || !strings.Contains(logs.String(), "certificate renewed") {
		t.Errorf("OnRenew called %d times; logs:\n%s", swapped, logs.String())
	}
}

// TestRunRenewsAfterResume: Run is waiting for a far deadline when the wall
// clock jumps past it (a resume from suspend) and Wake fires: it renews at
// once instead of waiting out its timer.
func TestRunRenewsAfterResume(t *testing.T) {
	c := newTestCA(t)
	cur := c.enroll(t, 2*time.Minute)
	time.Sleep(1100 * time.Millisecond)
	clock := &fakeClock{}
	clock.Set(time.Now())
	wake := make(chan struct{})
	renewed := make(chan struct{}, 1)
	r, err := NewRenewer(Config{
		Client: c.client(t), Now: clock.Now, Wake: wake, MaxSleep: time.Hour,
		OnRenew: func(tls.Certificate) { renewed <- struct{}{} },
	}, cur)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- r.Run(ctx) }()
	time.Sleep(100 * time.Millisecond)
	if c.requests.Load() != 0 {
		t.Fatal("renewed before the deadline")
	}
	clock.Set(cur.Leaf.NotAfter.Add(-5 * time.Second)) // slept past the renewal point
	wake <- struct{}{}
	select {
	case <-renewed:
	case <-time.After(10 * time.Second):
		t.Fatal("no renewal after resume")
	}
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Errorf("Run = %v, want context.Canceled", err)
	}
	checkRenewed(t, c, cur, r.Certificate())
}

func TestLogLimiter(t *testing.T) {
	l := newLogLimiter(10 * time.Minute)
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	steps := []struct {
		at         time.Duration
		key        string
		once       bool
		ok         bool
		suppressed int
	}{
		{0, "a", false, true, 0},
		{time.Minute, "a", false, false, 0},
		{2 * time.Minute, "b", false, true, 0}, // another message is not held back
		{9 * time.Minute, "a", false, false, 0},
		{10 * time.Minute, "a", false, true, 2}, // again, saying how many were held back
		{11 * time.Minute, "m", true, true, 0},
		{24 * time.Hour, "m", true, false, 0}, // once means once
	}
	for i, s := range steps {
		ok, n := l.allow(s.key, t0.Add(s.at), s.once)
		if ok != s.ok || n != s.suppressed {
			t.Errorf("step %d (%s at %s): allow = %v, %d; want %v, %d", i, s.key, s.at, ok, n, s.ok, s.suppressed)
		}
	}
	l.reset()
	if ok, _ := l.allow("m", t0, true); !ok {
		t.Error("reset did not forget")
	}
}
