package api

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/kiwistack/endpoint/enroll/protocol"
	"github.com/kiwistack/endpoint/server/store"
)

// AuditOperationClaim is the audit operation of an OEM laptop's first-boot
// claim (POST /v1/claims); its actor is 0, as no YubiKey signs it, and its
// params digest is the hex SHA-256 of the token presented.
const AuditOperationClaim = "claim_device"

// Failed-claim rate limit per remote address: a bucket of ClaimFailureBurst
// failures that refills by one every ClaimFailureRefill. Bootstrap tokens
// are bearer secrets; the limit makes guessing them (2^256) no easier and
// a flood of bad claims cheap to refuse.
const (
	ClaimFailureBurst  = 20
	ClaimFailureRefill = 6 * time.Second
	// claimLimiterMax bounds the addresses remembered; past it, full
	// buckets are forgotten.
	claimLimiterMax = 10000
)

// claimLimiter is a token bucket per remote address that only failed claims
// drain.
type claimLimiter struct {
	mu      sync.Mutex
	buckets map[string]*bucket
}

// bucket is one address's remaining failures, as of at.
type bucket struct {
	tokens float64
	at     time.Time
}

// refill brings b up to now.
func (b *bucket) refill(now time.Time) {
	if now.After(b.at) {
		b.tokens = min(ClaimFailureBurst, b.tokens+float64(now.Sub(b.at))/float64(ClaimFailureRefill))
		b.at = now
	}
}

// allow reports whether addr may claim now, and if not, how long until it
// may.
func (l *claimLimiter) allow(addr string, now time.Time) (bool, time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()
	b, ok := l.buckets[addr]
	if !ok {
		return true, 0
	}
	b.refill(now)
	if b.tokens >= 1 {
		return true, 0
	}
	return false, time.Duration((1 - b.tokens) * float64(ClaimFailureRefill))
}

// fail drains one failure from addr's bucket.
func (l *claimLimiter) fail(addr string, now time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.buckets == nil {
		l.buckets = map[string]*bucket{}
	}
	b, ok := l.buckets[addr]
	if !ok {
		if len(l.buckets) >= claimLimiterMax {
			for a, o := range l.buckets {
				if o.refill(now); o.tokens >= ClaimFailureBurst {
					delete(l.buckets, a)
				}
			}
		}
		b = &bucket{tokens: ClaimFailureBurst, at: now}
		l.buckets[addr] = b
	}
	b.refill(now)
	b.tokens = max(0, b.tokens-1)
}

// remoteHost is the address a claim is limited by: the peer's IP (the
// proxy's, behind one).
func remoteHost(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

// handleClaim runs the checks of an OEM laptop's claim and, when all pass,
// issues the device certificate. Every outcome but a rate-limited one
// writes exactly one audit entry.
func (s *Server) handleClaim(w http.ResponseWriter, r *http.Request) {
	host, now := remoteHost(r), s.cfg.Now()
	if ok, wait := s.claims.allow(host, now); !ok {
		// No audit entry: a flood must not grow the audit log.
		s.cfg.Metrics.EnrollmentRejected(ReasonRateLimited)
		w.Header().Set("Retry-After", strconv.Itoa(int(wait.Round(time.Second)/time.Second)+1))
		s.fail(w, r, reject(http.StatusTooManyRequests, ReasonRateLimited,
			"too many failed claims from this address; wait and try again", fmt.Errorf("claims from %s", host)))
		return
	}
	var digest string
	resp, e := s.claim(r, &digest)
	if e != nil {
		if e.status < 500 {
			s.claims.fail(host, now)
		}
		if _, err := s.cfg.Store.AppendAudit(r.Context(), store.AuditRecord{
			Time: now, Operation: AuditOperationClaim, ParamsDigest: digest, Result: resultRejected, Reason: e.reason,
		}); err != nil {
			s.log.Error("appending audit entry for a rejected claim", "reason", e.reason, "err", err)
		}
		s.cfg.Metrics.EnrollmentRejected(e.reason)
		s.fail(w, r, e)
		return
	}
	s.cfg.Metrics.EnrollmentAccepted()
	s.log.Info("device claimed", "device", resp.DeviceID, "token", digest[:store.BootstrapTokenIDLen])
	writeJSON(w, http.StatusCreated, resp)
}

// claim checks the request in the documented order and completes the
// claim; digest receives the hex SHA-256 of the token once it is read. It
// writes nothing unless every check passes.
func (s *Server) claim(r *http.Request, digest *string) (*protocol.EnrollResponse, *apiError) {
	ctx := r.Context()
	var req protocol.ClaimRequest
	if e := s.readJSONLimit(r, &req, min(s.cfg.MaxBody, protocol.MaxClaimRequestBytes)); e != nil {
		return nil, e
	}
	now := s.cfg.Now()
	sum := sha256.Sum256([]byte(req.Token))
	*digest = hex.EncodeToString(sum[:])
	t, e := s.checkToken(ctx, *digest, now)
	if e != nil {
		return nil, e
	}
	if !strings.EqualFold(t.HardwareSerial, req.HardwareSerial) {
		return nil, reject(http.StatusForbidden, ReasonSerialMismatch,
			"this bootstrap token was made for another laptop's serial number; ask the tenant's administrator for this laptop's token",
			fmt.Errorf("token %s is for serial %q, the laptop reports %q", t.ID, t.HardwareSerial, req.HardwareSerial))
	}
	csr, e := parseCSR(req.CSR)
	if e != nil {
		return nil, e
	}
	if e := s.checkCSRNames(csr, req.WireGuardPublicKey); e != nil {
		return nil, e
	}
	old, e := s.checkDevice(ctx, req.HardwareFingerprint, now)
	if e != nil {
		return nil, e
	}
	return s.complete(ctx, grant{
		fingerprint: req.HardwareFingerprint, deviceKeySHA256: protocol.DeviceKeyHash(csr.RawSubjectPublicKeyInfo),
		wireGuardKey: req.WireGuardPublicKey, claimedWith: t.ID, operation: AuditOperationClaim, digest: *digest,
		record: func(ctx context.Context, d store.Device, rec store.AuditRecord) error {
			_, _, err := s.cfg.Store.CompleteClaim(ctx, *digest, now, d, rec)
			return err
		},
	}, csr, old, now)
}

// checkToken finds the bootstrap token whose SHA-256 is sum and checks that
// it can be claimed with now: this tenant's, not revoked, not used, not
// expired.
func (s *Server) checkToken(ctx context.Context, sum string, now time.Time) (*store.BootstrapToken, *apiError) {
	t, err := s.cfg.Store.BootstrapTokenByHash(ctx, sum)
	switch {
	case errors.Is(err, store.ErrNotFound):
		return nil, tokenError(err)
	case err != nil:
		return nil, reject(http.StatusInternalServerError, ReasonInternal, "the bootstrap tokens could not be read; try again later", err)
	case subtle.ConstantTimeCompare([]byte(t.SHA256), []byte(sum)) != 1:
		return nil, tokenError(store.ErrNotFound)
	case t.Tenant != s.cfg.Tenant:
		return nil, reject(http.StatusForbidden, ReasonTenantMismatch,
			"this bootstrap token is another tenant's; check the API URL in the bootstrap file",
			fmt.Errorf("token %s is tenant %q's", t.ID, t.Tenant))
	case !t.RevokedAt.IsZero():
		return nil, tokenError(store.ErrTokenRevoked)
	case !t.UsedAt.IsZero():
		return nil, tokenError(fmt.Errorf("token %s claimed by %s: %w", t.ID, t.DeviceID, store.ErrTokenUsed))
	case !now.Before(t.ExpiresAt):
		return nil, tokenError(store.ErrTokenExpired)
	}
	return &t, nil
}

// tokenError is the rejection of a bootstrap token the store does not know
// or refuses.
func tokenError(err error) *apiError {
	switch {
	case errors.Is(err, store.ErrTokenUsed):
		return reject(http.StatusConflict, ReasonTokenUsed,
			"this bootstrap token was already used; a laptop claims once, then renews its certificate (re-enrollment needs an administrator)", err)
	case errors.Is(err, store.ErrTokenRevoked):
		return reject(http.StatusForbidden, ReasonTokenRevoked,
			"this bootstrap token was revoked; ask the tenant's administrator for a new one", err)
	case errors.Is(err, store.ErrTokenExpired):
		return reject(http.StatusForbidden, ReasonTokenExpired,
			"this bootstrap token expired; ask the tenant's administrator for a new one (kiwistack-api bootstrap create)", err)
	}
	return reject(http.StatusUnauthorized, ReasonTokenUnknown,
		"this bootstrap token is not known to this API; check the API URL and the token in the bootstrap file", err)
}
