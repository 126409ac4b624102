package reconcile

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"
)

// fake is a controller that records its runs and asks for a fixed delay.
type fake struct {
	name  string
	mu    sync.Mutex
	runs  int
	after time.Duration // 0: no deadline
	err   error
	ran   chan struct{}
}

func newFake(name string, after time.Duration) *fake {
	return &fake{name: name, after: after, ran: make(chan struct{}, 100)}
}

func (f *fake) Name() string { return f.name }
func (f *fake) Reconcile(context.Context) (time.Time, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.runs++
	f.ran <- struct{}{}
	if f.after == 0 {
		return time.Time{}, f.err
	}
	return time.Now().Add(f.after), f.err
}
func (f *fake) State() (string, string) { return "ok", "" }
func (f *fake) Runs() int               { f.mu.Lock(); defer f.mu.Unlock(); return f.runs }

func waitRun(t *testing.T, f *fake) {
	t.Helper()
	select {
	case <-f.ran:
	case <-time.After(5 * time.Second):
		t.Fatalf("%s did not run", f.name)
	}
}

func TestLoop(t *testing.T) {
	idle := newFake("idle", 0)
	soon := newFake("soon", 50*time.Millisecond)
	soon.err = errors.New("boom")
	wake := make(chan struct{})
	l := New(Options{Wake: wake}, idle, soon)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- l.Run(ctx) }()

	waitRun(t, idle)
	waitRun(t, soon)
	// The deadline wakes the loop for soon alone.
	waitRun(t, soon)
	if idle.Runs() != 1 {
		t.Errorf("idle ran %d times on soon's deadline, want 1", idle.Runs())
	}
	soon.mu.Lock()
	soon.after = time.Hour
	soon.mu.Unlock()
	waitRun(t, soon) // one more deadline, then an hour

	w := l.Wakeups()
	wake <- struct{}{} // a resume runs everyone
	waitRun(t, idle)
	waitRun(t, soon)
	l.Trigger()
	waitRun(t, idle)
	waitRun(t, soon)
	if got := l.Wakeups() - w; got != 2 {
		t.Errorf("wake-ups for a resume and a trigger = %d, want 2", got)
	}
	st := l.Statuses()
	if len(st) != 2 || st[1].Name != "soon" || st[1].LastError != "boom" || st[1].Next.IsZero() || !st[0].Next.IsZero() {
		t.Errorf("statuses = %+v", st)
	}
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Errorf("Run = %v", err)
	}
}

// BenchmarkIdleWakeups reports the loop's wake-ups per idle interval: with
// every controller's deadline an hour away it must stay at zero (the
// budget is one per minute).
func BenchmarkIdleWakeups(b *testing.B) {
	c := newFake("idle", time.Hour)
	l := New(Options{}, c)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() { _ = l.Run(ctx) }()
	<-c.ran
	b.ResetTimer()
	for range b.N {
		time.Sleep(time.Millisecond)
	}
	b.ReportMetric(float64(l.Wakeups()), "wakeups")
	if l.Wakeups() != 0 {
		b.Fatalf("%d wake-ups while idle", l.Wakeups())
	}
}
