package renew

import (
	"crypto/x509"
	"math/rand/v2"
	"testing"
	"time"
)

var t0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

func certFor(life time.Duration) *x509.Certificate {
	return &x509.Certificate{NotBefore: t0, NotAfter: t0.Add(life)}
}

func seeded(seed uint64) *rand.Rand { return rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15)) }

func TestSchedule(t *testing.T) {
	const day = 24 * time.Hour
	tests := []struct {
		name   string
		life   time.Duration
		policy Policy
		fails  []time.Duration // failures recorded at t0+offset, in order
		class  Class           // class of the last failure (transient if zero)
		at     time.Duration   // now = t0 + at
		// want
		state    State
		method   Method
		due      bool
		nextMin  time.Duration // Next(now) - t0 within [nextMin, nextMax]; both -1: zero time
		nextMax  time.Duration
		failures int
	}{
		{name: "fresh 24h certificate waits for two thirds", life: day, at: 0,
			state: StateValid, method: MethodMTLS, nextMin: 16*time.Hour - day/20, nextMax: 16 * time.Hour},
		{name: "fresh 2-minute certificate", life: 2 * time.Minute, at: time.Second,
			state: StateValid, method: MethodMTLS, nextMin: 80*time.Second - 6*time.Second, nextMax: 80 * time.Second},
		{name: "just before the earliest renewal point", life: day, at: 16*time.Hour - day/20 - time.Second,
			state: StateValid, method: MethodMTLS, nextMin: 16*time.Hour - day/20, nextMax: 16 * time.Hour},
		{name: "resume past the renewal point: due now", life: day, at: 20 * time.Hour,
			state: StateValid, method: MethodMTLS, due: true, nextMin: 16*time.Hour - day/20, nextMax: 16 * time.Hour},
		{name: "resume past expiry within grace: token now", life: day, policy: Policy{Grace: 7 * day}, at: day + 3*day,
			state: StateExpired, method: MethodToken, due: true, nextMin: 16*time.Hour - day/20, nextMax: 16 * time.Hour},
		{name: "resume past the grace: re-enroll, no attempt", life: day, policy: Policy{Grace: 7 * day}, at: 9 * day,
			state: StateReEnroll, method: MethodNone, nextMin: -1, nextMax: -1},
		{name: "no grace: expired means re-enroll", life: day, at: day + time.Second,
			state: StateReEnroll, method: MethodNone, nextMin: -1, nextMax: -1},
		{name: "first failure: 30s less up to a quarter", life: day, fails: []time.Duration{17 * time.Hour}, at: 17 * time.Hour,
			state: StateRetrying, method: MethodMTLS, failures: 1, nextMin: 17*time.Hour + 22500*time.Millisecond, nextMax: 17*time.Hour + 30*time.Second},
		{name: "fourth failure: 4m", life: day, fails: []time.Duration{17 * time.Hour, 17 * time.Hour, 17 * time.Hour, 17 * time.Hour}, at: 17 * time.Hour,
			state: StateRetrying, method: MethodMTLS, failures: 4, nextMin: 17*time.Hour + 3*time.Minute, nextMax: 17*time.Hour + 4*time.Minute},
		{name: "tenth failure: capped at 15m", life: day, fails: repeat(17*time.Hour, 10), at: 17 * time.Hour,
			state: StateRetrying, method: MethodMTLS, failures: 10, nextMin: 17*time.Hour + 11*time.Minute + 15*time.Second, nextMax: 17*time.Hour + 15*time.Minute},
		{name: "retry clamped to the last mTLS chance before expiry", life: day, fails: repeat(day-20*time.Minute, 10), at: day - 20*time.Minute,
			state: StateRetrying, method: MethodMTLS, failures: 10, nextMin: day - 15*time.Minute, nextMax: day - 15*time.Minute},
		{name: "retry clamped before the end of the grace", life: day, policy: Policy{Grace: day}, fails: repeat(2*day-20*time.Minute, 10), at: 2*day - 20*time.Minute,
			state: StateExpired, method: MethodToken, failures: 10, nextMin: 2*day - 15*time.Minute, nextMax: 2*day - 15*time.Minute},
		{name: "retry due after a suspend", life: day, fails: []time.Duration{17 * time.Hour}, at: 23 * time.Hour,
			state: StateRetrying, method: MethodMTLS, due: true, failures: 1, nextMin: 17*time.Hour + 22500*time.Millisecond, nextMax: 17*time.Hour + 30*time.Second},
		{name: "malformed answer backs off like a transient one", life: day, fails: []time.Duration{17 * time.Hour}, class: ClassMalformed, at: 17 * time.Hour,
			state: StateRetrying, method: MethodMTLS, failures: 1, nextMin: 17*time.Hour + 22500*time.Millisecond, nextMax: 17*time.Hour + 30*time.Second},
		{name: "revoked stops for good", life: day, fails: []time.Duration{17 * time.Hour}, class: ClassRevoked, at: 17 * time.Hour,
			state: StateRevoked, method: MethodNone, nextMin: -1, nextMax: -1},
		{name: "refused stops for good", life: day, fails: []time.Duration{17 * time.Hour}, class: ClassRefused, at: 20 * time.Hour,
			state: StateRefused, method: MethodNone, nextMin: -1, nextMax: -1},
		{name: "re-enroll answer stops", life: day, policy: Policy{Grace: 7 * day}, fails: []time.Duration{2 * day}, class: ClassReEnroll, at: 2 * day,
			state: StateReEnroll, method: MethodNone, nextMin: -1, nextMax: -1},
		{name: "custom backoff bounds", life: day, policy: Policy{BackoffMin: time.Second, BackoffMax: 4 * time.Second}, fails: repeat(17*time.Hour, 5), at: 17 * time.Hour,
			state: StateRetrying, method: MethodMTLS, failures: 5, nextMin: 17*time.Hour + 3*time.Second, nextMax: 17*time.Hour + 4*time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for seed := range uint64(50) {
				p := tt.policy
				p.Rand = seeded(seed)
				s := NewScheduler(certFor(tt.life), p)
				for i, f := range tt.fails {
					c := ClassTransient
					if i == len(tt.fails)-1 && tt.class != 0 {
						c = tt.class
					}
					s.Failed(t0.Add(f), c)
				}
				now := t0.Add(tt.at)
				if got := s.State(now); got != tt.state {
					t.Fatalf("seed %d: State = %s, want %s", seed, got, tt.state)
				}
				if got := s.Method(now); got != tt.method {
					t.Errorf("seed %d: Method = %d, want %d", seed, got, tt.method)
				}
				if got := s.Due(now); got != tt.due {
					t.Errorf("seed %d: Due = %v, want %v", seed, got, tt.due)
				}
				if got := s.Failures(); got != tt.failures {
					t.Errorf("seed %d: Failures = %d, want %d", seed, got, tt.failures)
				}
				next := s.Next(now)
				if tt.nextMin < 0 {
					if !next.IsZero() {
						t.Errorf("seed %d: Next = %s, want zero (stopped)", seed, next)
					}
					continue
				}
				if d := next.Sub(t0); d < tt.nextMin || d > tt.nextMax {
					t.Errorf("seed %d: Next = t0+%s, want in [%s, %s]", seed, d, tt.nextMin, tt.nextMax)
				}
				if tt.due && next.After(now) {
					t.Errorf("seed %d: due but Next %s after now %s", seed, next, now)
				}
			}
		})
	}
}

func repeat(d time.Duration, n int) []time.Duration {
	out := make([]time.Duration, n)
	for i := range out {
		out[i] = d
	}
	return out
}

// TestScheduleJitter: with a seeded source the renewal point spreads over
// the whole jitter window (a twentieth of the lifetime) and never leaves it,
// and the same seed gives the same point.
func TestScheduleJitter(t *testing.T) {
	life := 24 * time.Hour
	lo, hi := t0.Add(16*time.Hour-life/20), t0.Add(16*time.Hour)
	var first, last time.Time
	for seed := range uint64(2000) {
		at := NewScheduler(certFor(life), Policy{Rand: seeded(seed)}).Next(t0)
		if at.Before(lo) || at.After(hi) {
			t.Fatalf("seed %d: renewal at %s, outside [%s, %s]", seed, at, lo, hi)
		}
		if first.IsZero() || at.Before(first) {
			first = at
		}
		if at.After(last) {
			last = at
		}
	}
	if spread := last.Sub(first); spread < life/20*9/10 {
		t.Errorf("jitter spread %s over 2000 seeds, want nearly %s", spread, life/20)
	}
	a := NewScheduler(certFor(life), Policy{Rand: seeded(7)}).Next(t0)
	b := NewScheduler(certFor(life), Policy{Rand: seeded(7)}).Next(t0)
	if !a.Equal(b) {
		t.Errorf("same seed, different renewal points: %s, %s", a, b)
	}
}

// TestScheduleRenewedResets: a renewal forgets failures and schedules the
// new certificate; a stopped scheduler ignores further failures.
func TestScheduleRenewedResets(t *testing.T) {
	s := NewScheduler(certFor(time.Hour), Policy{Rand: seeded(1)})
	for range 5 {
		s.Failed(t0.Add(45*time.Minute), ClassTransient)
	}
	next := &x509.Certificate{NotBefore: t0.Add(45 * time.Minute), NotAfter: t0.Add(105 * time.Minute)}
	s.Renewed(next)
	if s.Failures() != 0 || s.State(t0.Add(46*time.Minute)) != StateValid {
		t.Fatalf("after Renewed: %d failures, state %s", s.Failures(), s.State(t0.Add(46*time.Minute)))
	}
	if at := s.Next(t0.Add(46 * time.Minute)); at.Before(t0.Add(82*time.Minute)) || at.After(t0.Add(85*time.Minute)) {
		t.Errorf("Next = %s, want two thirds into the new certificate", at)
	}
	s.Failed(t0.Add(90*time.Minute), ClassRevoked)
	if got := s.Failed(t0.Add(91*time.Minute), ClassTransient); !got.IsZero() || s.State(t0.Add(91*time.Minute)) != StateRevoked {
		t.Errorf("a failure after revocation rescheduled: %s, %s", got, s.State(t0.Add(91*time.Minute)))
	}
}

func TestBackoffGrowsThenCaps(t *testing.T) {
	s := NewScheduler(certFor(24*time.Hour), Policy{})
	want := []time.Duration{30 * time.Second, time.Minute, 2 * time.Minute, 4 * time.Minute, 8 * time.Minute, 15 * time.Minute, 15 * time.Minute}
	for i, w := range want {
		if got := s.Backoff(i + 1); got != w {
			t.Errorf("Backoff(%d) = %s, want %s", i+1, got, w)
		}
	}
}
