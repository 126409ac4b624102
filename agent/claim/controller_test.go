package claim

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"
)

// TestController: idle without a file; one attempt per pass with backoff
// while the API is unreachable; claimed (and the callback) once it answers.
func TestController(t *testing.T) {
	state := t.TempDir()
	apiURL := startTenant(t, state, "127.0.0.1:0")
	root := t.TempDir()
	var claimed atomic.Int32
	var fail atomic.Bool
	fail.Store(true)
	// The real time, so that the certificate the real step-ca issues is valid now.
	now := time.Now().UTC().Truncate(time.Second)
	c := NewController(Options{Root: root, Hardware: laptop("PF3CTRL1"), Now: func() time.Time { return now },
		Dial: func(ctx context.Context, u, fp string) (API, error) {
			if fail.Load() {
				return nil, errors.New("network unreachable")
			}
			return defaultDial(ctx, u, fp)
		}}, func() { claimed.Add(1) })

	if next, err := c.Reconcile(context.Background()); err != nil || !next.IsZero() {
		t.Fatalf("no file: next %v, err %v", next, err)
	}
	if st, _ := c.State(); st != "idle" {
		t.Errorf("no file: state %s", st)
	}
	plant(t, state, apiURL, "PF3CTRL1", root)
	next1, err := c.Reconcile(context.Background())
	if err == nil || !next1.After(now) {
		t.Fatalf("unreachable: next %v, err %v", next1, err)
	}
	next2, _ := c.Reconcile(context.Background())
	if !next2.After(now) || next2.Sub(now) > 2*DefaultInitialBackoff+time.Second {
		t.Errorf("second retry at %s", next2.Sub(now))
	}
	if st, _ := c.State(); st != "retrying" {
		t.Errorf("unreachable: state %s", st)
	}
	fail.Store(false)
	if next, err := c.Reconcile(context.Background()); err != nil || !next.IsZero() {
		t.Fatalf("claim: next %v, err %v", next, err)
	}
	if st, msg := c.State(); st != "claimed" || claimed.Load() != 1 {
		t.Errorf("claimed: state %s (%s), callback %d", st, msg, claimed.Load())
	}
	if _, err := c.Reconcile(context.Background()); err != nil {
		t.Fatal(err)
	}
	if st, _ := c.State(); st != "idle" || claimed.Load() != 1 {
		t.Errorf("enrolled: state %s, callback %d", st, claimed.Load())
	}
}
