// Package reconcile is the agent's one loop: it runs a list of controllers,
// each owning one concern (enrollment, certificate; later tunnel, launchers,
// OEM claim), and sleeps until the earliest wall-clock deadline any of them
// asked for, a wake (resume from sleep, a local request) or the end. There
// is no polling: a pass happens only when a timer fires or something wakes
// the loop.
//
// It owns scheduling and the controllers' status bookkeeping; it knows
// nothing about what a controller does.
package reconcile

import (
	"context"
	"io"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"
)

// DefaultMaxSleep bounds one sleep of the loop, as a safety net for a missed
// wake: a controller's deadline is a wall-clock time, and Go's timers stand
// still while the machine sleeps.
const DefaultMaxSleep = time.Hour

// Controller owns one concern. Reconcile must be idempotent: it looks at
// the world, does what is due, and returns when it next wants to run (a
// wall-clock time; the zero time means only on the next wake). A returned
// error is recorded in its status and does not stop the loop; a controller
// retries by returning a Next.
type Controller interface {
	Name() string
	Reconcile(ctx context.Context) (next time.Time, err error)
	// State returns a short state and a message for status output.
	State() (state, message string)
}

// Options configure a Loop.
type Options struct {
	// Now is the wall clock; nil is time.Now.
	Now func() time.Time
	// Wake, when it receives, makes the loop reconcile every controller at
	// once (a resume from sleep). Closing it is allowed.
	Wake <-chan struct{}
	// MaxSleep bounds each sleep (DefaultMaxSleep if zero).
	MaxSleep time.Duration
	// Logger; nil discards.
	Logger *slog.Logger
	// AfterPass, if set, is called after each pass (the daemon saves its
	// state there).
	AfterPass func()
}

// Loop runs controllers. Its methods are safe for concurrent use.
type Loop struct {
	o       Options
	ctls    []Controller
	trigger chan struct{}
	wakeups atomic.Int64
	passes  atomic.Int64

	mu   sync.Mutex
	runs []run
}

type run struct {
	last, next time.Time
	err        string
}

// Status is one controller's bookkeeping.
type Status struct {
	Name, State, Message string
	LastRun, Next        time.Time
	LastError            string
}

// New returns a loop over ctls, reconciled in this order.
func New(o Options, ctls ...Controller) *Loop {
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.MaxSleep <= 0 {
		o.MaxSleep = DefaultMaxSleep
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	return &Loop{o: o, ctls: ctls, trigger: make(chan struct{}, 1), runs: make([]run, len(ctls))}
}

// Trigger asks for a pass over every controller now; triggers coalesce.
func (l *Loop) Trigger() {
	select {
	case l.trigger <- struct{}{}:
	default:
	}
}

// Wakeups returns how many times the loop woke up (timer, wake or
// trigger) since it started: the idle-cost metric.
func (l *Loop) Wakeups() int64 { return l.wakeups.Load() }

// Passes returns how many passes the loop made.
func (l *Loop) Passes() int64 { return l.passes.Load() }

// Statuses returns each controller's status, in order.
func (l *Loop) Statuses() []Status {
	l.mu.Lock()
	runs := append([]run(nil), l.runs...)
	l.mu.Unlock()
	out := make([]Status, len(l.ctls))
	for i, c := range l.ctls {
		st, msg := c.State()
		out[i] = Status{Name: c.Name(), State: st, Message: msg, LastRun: runs[i].last, Next: runs[i].next, LastError: runs[i].err}
	}
	return out
}

// Run reconciles until ctx ends and returns ctx.Err(). The first pass runs
// every controller; later passes run those whose deadline has come, or all
// of them after a wake or a trigger.
func (l *Loop) Run(ctx context.Context) error {
	all := true
	wake := l.o.Wake
	for {
		l.pass(ctx, all)
		if ctx.Err() != nil {
			return ctx.Err()
		}
		wait := l.o.MaxSleep
		if next := l.earliest(); !next.IsZero() {
			wait = min(wait, next.Sub(l.o.Now()))
		}
		if wait <= 0 {
			all = false
			continue
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		case _, ok := <-wake:
			t.Stop()
			if !ok {
				wake = nil // closed: no more resume events
			}
			all = true
		case <-l.trigger:
			t.Stop()
			all = true
		case <-t.C:
			all = false
		}
		l.wakeups.Add(1)
	}
}

// pass reconciles the controllers that are due (all of them if all).
func (l *Loop) pass(ctx context.Context, all bool) {
	l.passes.Add(1)
	for i, c := range l.ctls {
		now := l.o.Now()
		l.mu.Lock()
		r := l.runs[i]
		l.mu.Unlock()
		due := all || r.last.IsZero() || (!r.next.IsZero() && !now.Before(r.next))
		if !due {
			continue
		}
		next, err := c.Reconcile(ctx)
		if ctx.Err() != nil {
			return
		}
		r = run{last: l.o.Now(), next: next}
		if err != nil {
			r.err = err.Error()
			l.o.Logger.Debug("reconcile", "controller", c.Name(), "err", err, "next", next)
		}
		l.mu.Lock()
		l.runs[i] = r
		l.mu.Unlock()
	}
	if l.o.AfterPass != nil {
		l.o.AfterPass()
	}
}

func (l *Loop) earliest() time.Time {
	l.mu.Lock()
	defer l.mu.Unlock()
	var e time.Time
	for _, r := range l.runs {
		if !r.next.IsZero() && (e.IsZero() || r.next.Before(e)) {
			e = r.next
		}
	}
	return e
}
