package renew

import (
	"crypto/x509"
	"math/rand/v2"
	"time"
)

// Defaults of Policy.
const (
	DefaultBackoffMin = 30 * time.Second
	DefaultBackoffMax = 15 * time.Minute
)

// State is where a certificate stands, for status output and for deciding
// what to do next.
type State int

// The states of a certificate.
const (
	// StateValid: valid, renewal scheduled.
	StateValid State = iota + 1
	// StateRetrying: a renewal failed (transient or malformed); retrying
	// with backoff.
	StateRetrying
	// StateExpired: past NotAfter but within the grace window; renewing
	// with the renewal token.
	StateExpired
	// StateReEnroll: expired longer ago than the grace window, or the CA
	// said so. Renewal has stopped; re-enroll with the YubiKey.
	StateReEnroll
	// StateRevoked: the CA refused renewal because the certificate is
	// revoked. Renewal has stopped for good.
	StateRevoked
	// StateRefused: the CA refused renewal for another reason (401 or
	// 403). Renewal has stopped for good.
	StateRefused
)

// String returns the state as status shows it.
func (s State) String() string {
	switch s {
	case StateValid:
		return "valid"
	case StateRetrying:
		return "retrying"
	case StateExpired:
		return "expired, renewing within grace"
	case StateReEnroll:
		return "re-enrollment needed"
	case StateRevoked:
		return "revoked"
	case StateRefused:
		return "renewal refused"
	}
	return "unknown"
}

// Method is how a renewal authenticates to the CA.
type Method int

// The renewal methods.
const (
	// MethodNone: nothing can renew this certificate any more.
	MethodNone Method = iota
	// MethodMTLS: the current certificate in the TLS handshake.
	MethodMTLS
	// MethodToken: step-ca's renewal token, for an expired certificate
	// within the grace window.
	MethodToken
)

// Policy configures a Scheduler. The zero value uses the defaults and no
// grace window.
type Policy struct {
	// Grace is how long after NotAfter the CA still renews (step-ca with
	// allowRenewalAfterExpiry, bounded by the tenant bridge).
	Grace time.Duration
	// BackoffMin and BackoffMax bound the delay after a failure; it
	// doubles from BackoffMin up to BackoffMax.
	BackoffMin, BackoffMax time.Duration
	// Rand draws the jitter; nil uses math/rand/v2's global source.
	Rand *rand.Rand
}

// Scheduler decides when to renew one certificate and what to do after a
// failure. It holds wall-clock deadlines and never a duration: callers ask
// Next(now) again whenever they wake up (after a timer, and after a resume
// from suspend, during which Go's monotonic timers stand still). It is pure:
// the clock and randomness come from the caller. It is not safe for
// concurrent use.
type Scheduler struct {
	p         Policy
	notBefore time.Time
	notAfter  time.Time
	renewAt   time.Time
	failures  int
	retryAt   time.Time
	stopped   State // a terminal state, or 0
}

// NewScheduler returns a scheduler for leaf.
func NewScheduler(leaf *x509.Certificate, p Policy) *Scheduler {
	if p.BackoffMin <= 0 {
		p.BackoffMin = DefaultBackoffMin
	}
	if p.BackoffMax < p.BackoffMin {
		p.BackoffMax = max(DefaultBackoffMax, p.BackoffMin)
	}
	s := &Scheduler{p: p}
	s.Renewed(leaf)
	return s
}

func (s *Scheduler) int64n(n int64) int64 {
	if n <= 0 {
		return 0
	}
	if s.p.Rand != nil {
		return s.p.Rand.Int64N(n)
	}
	return rand.Int64N(n)
}

func (s *Scheduler) lifetime() time.Duration { return s.notAfter.Sub(s.notBefore) }

// Renewed starts over with a new certificate: failures are forgotten and the
// renewal time is drawn again. As step's TLSRenewer does, renewal is due when
// a third of the lifetime remains, less a random part of up to a twentieth
// of the lifetime.
func (s *Scheduler) Renewed(leaf *x509.Certificate) {
	s.notBefore, s.notAfter = leaf.NotBefore, leaf.NotAfter
	life := s.lifetime()
	s.renewAt = s.notAfter.Add(-life / 3).Add(-time.Duration(s.int64n(int64(life / 20))))
	s.failures, s.retryAt, s.stopped = 0, time.Time{}, 0
}

// NotAfter returns the current certificate's NotAfter.
func (s *Scheduler) NotAfter() time.Time { return s.notAfter }

// Failures returns the number of failed attempts since the last renewal.
func (s *Scheduler) Failures() int { return s.failures }

func (s *Scheduler) graceEnd() time.Time { return s.notAfter.Add(s.p.Grace) }

// State returns the certificate's state at now.
func (s *Scheduler) State(now time.Time) State {
	switch {
	case s.stopped != 0:
		return s.stopped
	case now.After(s.graceEnd()):
		return StateReEnroll
	case now.After(s.notAfter):
		return StateExpired
	case s.failures > 0:
		return StateRetrying
	}
	return StateValid
}

// Next returns the wall-clock time of the next renewal attempt. A time not
// after now means "renew now" (as after a resume past the deadline); the zero
// time means never: renewal has stopped (State says why).
func (s *Scheduler) Next(now time.Time) time.Time {
	switch s.State(now) {
	case StateReEnroll, StateRevoked, StateRefused:
		return time.Time{}
	}
	if s.failures > 0 {
		return s.retryAt
	}
	return s.renewAt
}

// Due reports whether a renewal attempt is due at now.
func (s *Scheduler) Due(now time.Time) bool {
	next := s.Next(now)
	return !next.IsZero() && !now.Before(next)
}

// Method returns how to renew at now: mutual TLS while the certificate is
// valid, the renewal token after expiry within the grace window.
func (s *Scheduler) Method(now time.Time) Method {
	switch s.State(now) {
	case StateValid, StateRetrying:
		return MethodMTLS
	case StateExpired:
		return MethodToken
	}
	return MethodNone
}

// Backoff returns the delay before retry number n (1 for the first), before
// jitter: BackoffMin doubled n-1 times, capped at BackoffMax.
func (s *Scheduler) Backoff(n int) time.Duration {
	d := s.p.BackoffMin
	for i := 1; i < n && d < s.p.BackoffMax; i++ {
		d *= 2
	}
	return min(d, s.p.BackoffMax)
}

// Failed records a failed attempt at now and returns the time of the next
// one (the zero time if renewal has stopped). A terminal class stops renewal
// for good. Otherwise the delay is Backoff less a random quarter of it, but
// never past the last moment mutual TLS can still work (NotAfter less a
// twentieth of the lifetime, at most BackoffMax) nor past the same margin
// before the end of the grace window.
func (s *Scheduler) Failed(now time.Time, c Class) time.Time {
	if s.stopped != 0 {
		return time.Time{}
	}
	switch c {
	case ClassRevoked:
		s.stopped = StateRevoked
	case ClassReEnroll:
		s.stopped = StateReEnroll
	case ClassRefused:
		s.stopped = StateRefused
	}
	if s.stopped != 0 {
		return time.Time{}
	}
	s.failures++
	d := s.Backoff(s.failures)
	d -= time.Duration(s.int64n(int64(d/4) + 1))
	at := now.Add(d)
	margin := min(s.lifetime()/20, s.p.BackoffMax)
	for _, deadline := range []time.Time{s.notAfter.Add(-margin), s.graceEnd().Add(-margin)} {
		if now.Before(deadline) && at.After(deadline) {
			at = deadline
			break
		}
	}
	s.retryAt = at
	return s.Next(now)
}
