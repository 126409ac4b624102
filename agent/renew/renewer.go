package renew

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"time"
)

// Defaults of Config.
const (
	// DefaultMaxSleep bounds one wait of Run, so that the wall clock is
	// read again at least this often even if no resume is signalled.
	DefaultMaxSleep = time.Minute
	// DefaultLogEvery is how often an identical repeated failure is logged.
	DefaultLogEvery = 10 * time.Minute
)

// Config configures a Renewer.
type Config struct {
	// Client talks to the CA. Required.
	Client *Client
	// CertPath is where the chain is stored (WriteChain); empty keeps the
	// certificate in memory only.
	CertPath string
	// Policy is the renewal schedule's policy.
	Policy Policy
	// Logger receives renewals and rate-limited failures; nil discards.
	Logger *slog.Logger
	// Now is the wall clock; nil is time.Now.
	Now func() time.Time
	// Wake, when it receives, makes Run look at the clock at once: send on
	// it on resume from suspend (logind PrepareForSleep, the macOS and
	// Windows power notifications).
	Wake <-chan struct{}
	// MaxSleep bounds each wait of Run (DefaultMaxSleep if zero).
	MaxSleep time.Duration
	// LogEvery bounds how often an identical failure is logged again
	// (DefaultLogEvery if zero). A malformed answer is logged once.
	LogEvery time.Duration
	// OnRenew, if set, is called with each new certificate after it is
	// stored, e.g. to swap it into a tls.Config.
	OnRenew func(tls.Certificate)
}

// Status is a snapshot of a Renewer for status output.
type Status struct {
	State     State
	NotAfter  time.Time
	Next      time.Time // zero when renewal has stopped
	Failures  int       // since the last renewal
	LastError string    // the last failure, safe to show
}

// Renewer keeps one device certificate renewed: Step makes one attempt if
// one is due, Run loops until the context ends or renewal stops for good.
// Its methods are safe for concurrent use.
type Renewer struct {
	cfg     Config
	log     *slog.Logger
	limiter *logLimiter

	mu      sync.Mutex
	cert    tls.Certificate
	sched   *Scheduler
	lastErr string
}

// NewRenewer returns a renewer for current (leaf, intermediates, key).
func NewRenewer(cfg Config, current tls.Certificate) (*Renewer, error) {
	if cfg.Client == nil {
		return nil, errors.New("renewer: no client")
	}
	leaf, err := leafOf(current)
	if err != nil {
		return nil, err
	}
	current.Leaf = leaf
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.MaxSleep <= 0 {
		cfg.MaxSleep = DefaultMaxSleep
	}
	if cfg.LogEvery <= 0 {
		cfg.LogEvery = DefaultLogEvery
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	return &Renewer{
		cfg: cfg, log: log, limiter: newLogLimiter(cfg.LogEvery),
		cert: current, sched: NewScheduler(leaf, cfg.Policy),
	}, nil
}

// Certificate returns the current certificate.
func (r *Renewer) Certificate() tls.Certificate {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.cert
}

// Status returns where the certificate stands at the wall clock's now.
func (r *Renewer) Status() Status {
	now := r.cfg.Now()
	r.mu.Lock()
	defer r.mu.Unlock()
	return Status{
		State: r.sched.State(now), NotAfter: r.sched.NotAfter(), Next: r.sched.Next(now),
		Failures: r.sched.Failures(), LastError: r.lastErr,
	}
}

// Step renews if a renewal is due at the wall clock's now and returns the
// time of the next attempt (zero if renewal has stopped) and the error of
// this attempt, if any. A failure never replaces the current certificate;
// only a verified certificate, once written to CertPath, does.
func (r *Renewer) Step(ctx context.Context) (time.Time, error) {
	now := r.cfg.Now()
	r.mu.Lock()
	due, cur := r.sched.Due(now), r.cert
	next := r.sched.Next(now)
	r.mu.Unlock()
	if !due {
		return next, nil
	}
	renewed, err := r.cfg.Client.Renew(ctx, cur, now)
	if err == nil && r.cfg.CertPath != "" {
		if werr := WriteChain(r.cfg.CertPath, renewed); werr != nil {
			// The new certificate is valid but could not be stored: keep
			// using the old one and try again later.
			err = &Error{Class: ClassTransient, Err: werr}
		}
	}
	if ctx.Err() != nil && err != nil {
		return next, ctx.Err()
	}
	now = r.cfg.Now()
	r.mu.Lock()
	defer r.mu.Unlock()
	if err != nil {
		class := ClassOf(err)
		next = r.sched.Failed(now, class)
		r.lastErr = err.Error()
		r.logFailure(now, class, err, next)
		return next, err
	}
	r.cert = renewed
	r.sched.Renewed(renewed.Leaf)
	r.lastErr = ""
	r.limiter.reset()
	next = r.sched.Next(now)
	r.log.Info("certificate renewed", "serial", renewed.Leaf.SerialNumber.String(),
		"not_after", renewed.Leaf.NotAfter, "next_renewal", next)
	if r.cfg.OnRenew != nil {
		r.cfg.OnRenew(renewed)
	}
	return next, nil
}

func (r *Renewer) logFailure(now time.Time, class Class, err error, next time.Time) {
	key := class.String() + "\x00" + err.Error()
	once := class == ClassMalformed || class.Terminal()
	ok, suppressed := r.limiter.allow(key, now, once)
	if !ok {
		return
	}
	attrs := []any{"class", class.String(), "err", err, "failures", r.sched.Failures()}
	if suppressed > 0 {
		attrs = append(attrs, "suppressed", suppressed)
	}
	if class.Terminal() {
		r.log.Error("certificate renewal stopped: "+r.sched.State(now).String(), attrs...)
		return
	}
	r.log.Warn("certificate renewal failed", append(attrs, "next_attempt", next)...)
}

// Run renews until ctx ends (returning ctx.Err()) or renewal stops for
// good (returning the terminal error, which matches ErrRevoked, ErrReEnroll
// or ErrRefused). It sleeps at most MaxSleep at a time and re-reads the wall
// clock on every wake, so a laptop resumed past its deadline renews at once.
func (r *Renewer) Run(ctx context.Context) error {
	for {
		next, err := r.Step(ctx)
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if next.IsZero() {
			if err != nil {
				return err
			}
			st := r.Status()
			return &Error{Class: stateClass(st.State), Err: fmt.Errorf("certificate ends %s: %s", st.NotAfter, st.State)}
		}
		wait := min(next.Sub(r.cfg.Now()), r.cfg.MaxSleep)
		if wait <= 0 {
			continue
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		case <-r.cfg.Wake:
			t.Stop()
		case <-t.C:
		}
	}
}

func stateClass(s State) Class {
	switch s {
	case StateRevoked:
		return ClassRevoked
	case StateRefused:
		return ClassRefused
	}
	return ClassReEnroll
}

// logLimiter lets an identical message through at most once per interval,
// or only once, and counts what it held back.
type logLimiter struct {
	every      time.Duration
	last       map[string]time.Time
	suppressed map[string]int
}

func newLogLimiter(every time.Duration) *logLimiter {
	return &logLimiter{every: every, last: map[string]time.Time{}, suppressed: map[string]int{}}
}

// allow reports whether key may be logged at now, and how many times it was
// held back since it was last logged.
func (l *logLimiter) allow(key string, now time.Time, once bool) (bool, int) {
	last, seen := l.last[key]
	if seen && (once || now.Sub(last) < l.every) {
		l.suppressed[key]++
		return false, 0
	}
	n := l.suppressed[key]
	l.last[key] = now
	delete(l.suppressed, key)
	return true, n
}

func (l *logLimiter) reset() { clear(l.last); clear(l.suppressed) }
