package api

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/kiwistack/endpoint/enroll/protocol"
	"github.com/kiwistack/endpoint/server/store"
)

// newToken records a bootstrap token for serial in e's store, owned by
// tenant slug and expiring after life (negative: already expired).
func (e *env) newToken(tb testing.TB, serial, slug string, life time.Duration) (string, store.BootstrapToken) {
	tb.Helper()
	var secret [32]byte
	_, _ = rand.Read(secret[:])
	tok := protocol.NewBootstrapToken(secret)
	sum := sha256.Sum256([]byte(tok))
	bt, _, err := e.st.CreateBootstrapToken(context.Background(), store.BootstrapToken{
		SHA256: hex.EncodeToString(sum[:]), Tenant: slug, HardwareSerial: serial, ExpiresAt: time.Now().Add(life),
	}, store.AuditRecord{Operation: "bootstrap_token_create", Result: resultAccepted})
	if err != nil {
		tb.Fatal(err)
	}
	return tok, bt
}

// claimRequest is a valid claim for token from a new laptop with serial.
func claimRequest(tb testing.TB, token, serial string) protocol.ClaimRequest {
	tb.Helper()
	k, wg := newKey(tb), wgKey()
	var fp [8]byte
	_, _ = rand.Read(fp[:])
	return protocol.ClaimRequest{Token: token, HardwareSerial: serial, HardwareFingerprint: "hw1:" + hex.EncodeToString(fp[:]),
		CSR: deviceCSR(tb, k, wg, nil), WireGuardPublicKey: wg}
}

func claimBody(tb testing.TB, r protocol.ClaimRequest) []byte {
	tb.Helper()
	b, err := json.Marshal(r)
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

func TestClaimHappyPath(t *testing.T) {
	e := newEnv(t)
	tok, bt := e.newToken(t, "PF3ABCDE", tenant, time.Hour)
	req := claimRequest(t, tok, "pf3abcde") // serials compare without regard to case
	audits := e.audits(t)
	status, body := e.post(t, "/v1/claims", ctJSON, claimBody(t, req))
	if status != http.StatusCreated {
		t.Fatalf("claim: %d %s", status, body)
	}
	var resp protocol.EnrollResponse
	if err := protocol.DecodeJSON(bytes.NewReader(body), protocol.MaxResponseBytes, &resp); err != nil {
		t.Fatal(err)
	}
	b, _ := pem.Decode([]byte(req.CSR))
	csr, _ := x509.ParseCertificateRequest(b.Bytes)
	wantID := protocol.DeviceID(protocol.DeviceKeyHash(csr.RawSubjectPublicKeyInfo))
	leafBlock, _ := pem.Decode([]byte(resp.Certificate))
	leaf, err := x509.ParseCertificate(leafBlock.Bytes)
	if err != nil || resp.DeviceID != wantID || leaf.Subject.CommonName != wantID || resp.Config.Tenant != tenant || resp.Config.APIURL != "https://api.acme.test" {
		t.Fatalf("response %+v, leaf %v, %v", resp, leaf.Subject, err)
	}
	d, err := e.st.DeviceByID(context.Background(), wantID)
	if err != nil || d.ClaimedWith != bt.ID || d.EnrolledBy != 0 || d.HardwareFingerprint != req.HardwareFingerprint || d.WireGuardPublicKey != req.WireGuardPublicKey {
		t.Fatalf("device %+v, %v", d, err)
	}
	got, err := e.st.BootstrapTokenByHash(context.Background(), bt.SHA256)
	if err != nil || got.UsedAt.IsZero() || got.DeviceID != wantID {
		t.Fatalf("token after the claim: %+v, %v", got, err)
	}
	if n := e.audits(t); n != audits+1 {
		t.Fatalf("%d audit entries written, want 1", n-audits)
	}
	last, _ := e.st.AuditEntries(context.Background(), audits, 1)
	if len(last) != 1 || last[0].Operation != AuditOperationClaim || last[0].Result != resultAccepted || last[0].Actor != 0 || last[0].ParamsDigest != bt.SHA256 {
		t.Fatalf("audit entry %+v", last)
	}
}

func TestClaimRejections(t *testing.T) {
	e := newEnv(t)
	other := newEnv(t) // another tenant's store (same slug, separate tenant)
	otherTok, _ := other.newToken(t, "SER-OTHER", tenant, time.Hour)

	usedTok, _ := e.newToken(t, "SER-USED", tenant, time.Hour)
	if status, body := e.post(t, "/v1/claims", ctJSON, claimBody(t, claimRequest(t, usedTok, "SER-USED"))); status != http.StatusCreated {
		t.Fatalf("first claim: %d %s", status, body)
	}
	expiredTok, _ := e.newToken(t, "SER-EXP", tenant, -time.Minute)
	revokedTok, revoked := e.newToken(t, "SER-REV", tenant, time.Hour)
	if _, err := e.st.RevokeBootstrapToken(context.Background(), revoked.ID, time.Now(), store.AuditRecord{Operation: "bootstrap_token_revoke"}); err != nil {
		t.Fatal(err)
	}
	serialTok, _ := e.newToken(t, "SER-A", tenant, time.Hour)
	globexTok, _ := e.newToken(t, "SER-G", "globex", time.Hour)
	okTok, _ := e.newToken(t, "SER-OK", tenant, time.Hour)

	// A laptop that is already enrolled.
	enrolled := e.begin(t)
	if status, body := e.post(t, "/v1/enrollments", ctJSON, enrolled.body(t)); status != http.StatusCreated {
		t.Fatalf("enrollment: %d %s", status, body)
	}
	known := claimRequest(t, okTok, "SER-OK")
	known.HardwareFingerprint = enrolled.fingerprint
	badCSR := claimRequest(t, okTok, "SER-OK")
	badCSR.CSR = string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: []byte("not der")}))
	unknownField := strings.Replace(string(claimBody(t, claimRequest(t, okTok, "SER-OK"))), `{`, `{"extra":1,`, 1)

	for _, tc := range []struct {
		name   string
		ctype  string
		body   []byte
		status int
		reason string
	}{
		{"reused token", ctJSON, claimBody(t, claimRequest(t, usedTok, "SER-USED")), 409, ReasonTokenUsed},
		{"expired token", ctJSON, claimBody(t, claimRequest(t, expiredTok, "SER-EXP")), 403, ReasonTokenExpired},
		{"revoked token", ctJSON, claimBody(t, claimRequest(t, revokedTok, "SER-REV")), 403, ReasonTokenRevoked},
		{"foreign serial", ctJSON, claimBody(t, claimRequest(t, serialTok, "SER-B")), 403, ReasonSerialMismatch},
		{"other tenant's token", ctJSON, claimBody(t, claimRequest(t, globexTok, "SER-G")), 403, ReasonTenantMismatch},
		{"other store's token", ctJSON, claimBody(t, claimRequest(t, otherTok, "SER-OTHER")), 401, ReasonTokenUnknown},
		{"already enrolled", ctJSON, claimBody(t, known), 409, ReasonDeviceExists},
		{"bad csr", ctJSON, claimBody(t, badCSR), 400, ReasonBadCSR},
		{"malformed", ctJSON, []byte(`{"token":`), 400, protocol.ReasonMalformed},
		{"malformed token", ctJSON, claimBody(t, claimRequest(t, "kst1_short", "SER-OK")), 400, protocol.ReasonMalformed},
		{"unknown field", ctJSON, []byte(unknownField), 400, protocol.ReasonMalformed},
		{"oversized", ctJSON, bytes.Repeat([]byte(" "), protocol.MaxClaimRequestBytes+1), 413, ReasonBodyTooLarge},
		{"wrong content type", "text/plain", claimBody(t, claimRequest(t, okTok, "SER-OK")), 415, ReasonMediaType},
	} {
		t.Run(tc.name, func(t *testing.T) {
			audits, devices := e.audits(t), e.devices(t)
			status, body := e.post(t, "/v1/claims", tc.ctype, tc.body)
			var er protocol.ErrorResponse
			if err := json.Unmarshal(body, &er); err != nil || status != tc.status || er.Reason != tc.reason || er.Message == "" {
				t.Fatalf("%d %s, want %d %s", status, body, tc.status, tc.reason)
			}
			if n := e.audits(t); n != audits+1 {
				t.Fatalf("%d audit entries, want 1", n-audits)
			}
			last, _ := e.st.AuditEntries(context.Background(), audits, 1)
			if last[0].Operation != AuditOperationClaim || last[0].Result != resultRejected || last[0].Reason != tc.reason {
				t.Fatalf("audit entry %+v", last[0])
			}
			if d := e.devices(t); d != devices {
				t.Fatalf("%d devices created", d-devices)
			}
			for _, secret := range []string{usedTok, okTok, expiredTok} {
				if strings.Contains(string(body), secret) {
					t.Fatal("the answer shows a token")
				}
			}
		})
	}
	// The token refused for the known laptop still works for a new one.
	if status, body := e.post(t, "/v1/claims", ctJSON, claimBody(t, claimRequest(t, okTok, "SER-OK"))); status != http.StatusCreated {
		t.Fatalf("claim after refusals: %d %s", status, body)
	}
}

func TestClaimConcurrentUse(t *testing.T) {
	e := newEnv(t)
	tok, _ := e.newToken(t, "SER-RACE", tenant, time.Hour)
	const workers = 6
	reqs := make([][]byte, workers)
	for i := range reqs {
		reqs[i] = claimBody(t, claimRequest(t, tok, "SER-RACE"))
	}
	devices := e.devices(t)
	var mu sync.Mutex
	got := map[string]int{}
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			status, body := e.post(t, "/v1/claims", ctJSON, reqs[i])
			var er protocol.ErrorResponse
			_ = json.Unmarshal(body, &er)
			mu.Lock()
			got[fmt.Sprintf("%d %s", status, er.Reason)]++
			mu.Unlock()
		}()
	}
	close(start)
	wg.Wait()
	if got["201 "] != 1 || got["409 "+ReasonTokenUsed] != workers-1 {
		t.Fatalf("outcomes %v, want one 201 and %d 409 %s", got, workers-1, ReasonTokenUsed)
	}
	if d := e.devices(t); d != devices+1 {
		t.Fatalf("%d devices created, want 1", d-devices)
	}
}

func TestClaimRateLimit(t *testing.T) {
	now := time.Date(2026, 11, 28, 6, 0, 0, 0, time.UTC)
	var mu sync.Mutex
	e := newEnv(t, func(c *Config) {
		c.Now = func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	})
	bad := claimBody(t, claimRequest(t, protocol.NewBootstrapToken([32]byte{9}), "SER"))
	for i := range ClaimFailureBurst {
		if status, body := e.post(t, "/v1/claims", ctJSON, bad); status != http.StatusUnauthorized {
			t.Fatalf("failure %d: %d %s", i, status, body)
		}
	}
	audits := e.audits(t)
	req, _ := http.NewRequest(http.MethodPost, e.srv.URL+"/v1/claims", bytes.NewReader(bad))
	req.Header.Set("Content-Type", ctJSON)
	resp, err := e.srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusTooManyRequests || resp.Header.Get("Retry-After") == "" {
		t.Fatalf("after %d failures: %d, Retry-After %q", ClaimFailureBurst, resp.StatusCode, resp.Header.Get("Retry-After"))
	}
	if n := e.audits(t); n != audits {
		t.Fatalf("a rate-limited claim wrote %d audit entries", n-audits)
	}
	mu.Lock()
	now = now.Add(ClaimFailureRefill)
	mu.Unlock()
	tok, _ := e.newToken(t, "SER-OK", tenant, 48*time.Hour)
	if status, body := e.post(t, "/v1/claims", ctJSON, claimBody(t, claimRequest(t, tok, "SER-OK"))); status != http.StatusCreated {
		t.Fatalf("after the refill: %d %s", status, body)
	}
}

func TestClaimLimiterForgetsFullBuckets(t *testing.T) {
	var l claimLimiter
	t0 := time.Unix(0, 0)
	for i := range claimLimiterMax {
		l.fail(fmt.Sprint(i), t0)
	}
	l.fail("new", t0.Add(ClaimFailureRefill)) // every earlier bucket is full again
	if len(l.buckets) != 1 {
		t.Fatalf("%d buckets remembered, want 1", len(l.buckets))
	}
	if ok, _ := l.allow("new", t0.Add(ClaimFailureRefill)); !ok {
		t.Fatal("one failure blocks an address")
	}
}

// TestClaimReenrollment: a laptop that is enrolled claims again after an
// administrator allowed its re-enrollment; the claim replaces the record.
func TestClaimReenrollment(t *testing.T) {
	e := newEnv(t)
	c := e.begin(t)
	status, body := e.post(t, "/v1/enrollments", ctJSON, c.body(t))
	if status != http.StatusCreated {
		t.Fatalf("enrollment: %d %s", status, body)
	}
	var first protocol.EnrollResponse
	_ = json.Unmarshal(body, &first)
	if err := e.st.AllowReenrollment(context.Background(), first.DeviceID, 0, time.Now().Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	tok, bt := e.newToken(t, "SER-RE", tenant, time.Hour)
	req := claimRequest(t, tok, "SER-RE")
	req.HardwareFingerprint = c.fingerprint
	status, body = e.post(t, "/v1/claims", ctJSON, claimBody(t, req))
	if status != http.StatusCreated {
		t.Fatalf("claim: %d %s", status, body)
	}
	var second protocol.EnrollResponse
	_ = json.Unmarshal(body, &second)
	old, err := e.st.DeviceByID(context.Background(), first.DeviceID)
	if err != nil || old.Status != store.StatusReplaced || old.ReplacedBy != second.DeviceID {
		t.Fatalf("old record %+v, %v", old, err)
	}
	cur, err := e.st.DeviceByFingerprint(context.Background(), c.fingerprint)
	if err != nil || cur.ID != second.DeviceID || cur.ClaimedWith != bt.ID || cur.Replaces != first.DeviceID {
		t.Fatalf("new record %+v, %v", cur, err)
	}
}
