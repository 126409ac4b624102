package renew

import (
	"context"
	"crypto/ecdsa"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/kiwistack/endpoint/server/ca"
)

// checkRenewed asserts that got is a verified renewal of old.
func checkRenewed(t *testing.T, c *testCA, old, got tls.Certificate) {
	t.Helper()
	if got.Leaf == nil || len(got.Certificate) != 2 {
		t.Fatalf("renewed certificate: leaf %v, %d DER blocks, want leaf and intermediate", got.Leaf != nil, len(got.Certificate))
	}
	if !got.Leaf.NotAfter.After(old.Leaf.NotAfter) {
		t.Errorf("NotAfter %s not after %s", got.Leaf.NotAfter, old.Leaf.NotAfter)
	}
	if !publicKeyEqual(got.Leaf.PublicKey, old.Leaf.PublicKey) || got.PrivateKey != old.PrivateKey {
		t.Error("renewal changed the key")
	}
	if got.Leaf.SerialNumber.Cmp(old.Leaf.SerialNumber) == 0 {
		t.Error("same serial")
	}
	roots, inter := x509.NewCertPool(), x509.NewCertPool()
	roots.AddCert(c.e.Roots()[0])
	inter.AddCert(c.e.Intermediate())
	if _, err := got.Leaf.Verify(x509.VerifyOptions{Roots: roots, Intermediates: inter, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}); err != nil {
		t.Errorf("renewed certificate does not verify: %v", err)
	}
}

func TestRenewMTLS(t *testing.T) {
	c := newTestCA(t)
	cur := c.enroll(t, 2*time.Minute)
	time.Sleep(1100 * time.Millisecond) // NotAfter has a resolution of one second
	got, err := c.client(t).Renew(context.Background(), cur, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	checkRenewed(t, c, cur, got)

	// Stored and loaded back as the same pair.
	path := filepath.Join(t.TempDir(), "device.crt")
	if err := WriteChain(path, got); err != nil {
		t.Fatal(err)
	}
	loaded, err := LoadCertificate(path, cur.PrivateKey.(*ecdsa.PrivateKey))
	if err != nil {
		t.Fatal(err)
	}
	if !loaded.Leaf.Equal(got.Leaf) || len(loaded.Certificate) != 2 {
		t.Errorf("loaded %v, want the renewed chain", loaded.Leaf.SerialNumber)
	}
	if _, err := LoadCertificate(path, newKey(t)); err == nil {
		t.Error("chain loaded with another key")
	}
}

// TestRenewTokenAfterRealExpiry lets a 2-second certificate expire in real
// time, so mutual TLS is impossible, and renews it with the renewal token.
func TestRenewTokenAfterRealExpiry(t *testing.T) {
	c := newTestCA(t, ca.WithMinLifetime(time.Second), ca.WithRenewalGrace(time.Hour))
	cur := c.enroll(t, 2*time.Second)
	time.Sleep(time.Until(cur.Leaf.NotAfter) + 1100*time.Millisecond)

	r, err := NewRenewer(Config{Client: c.client(t), Policy: Policy{Grace: time.Hour}}, cur)
	if err != nil {
		t.Fatal(err)
	}
	if st := r.Status(); st.State != StateExpired || st.Next.After(time.Now()) {
		t.Fatalf("status before = %+v, want expired and due", st)
	}
	if _, err := r.Step(context.Background()); err != nil {
		t.Fatal(err)
	}
	checkRenewed(t, c, cur, r.Certificate())
	if st := r.Status(); st.State != StateValid || st.Failures != 0 {
		t.Errorf("status after = %+v, want valid", st)
	}
}

// TestRenewPastGrace moves the CA's clock (its grace check) beyond the
// grace window: the CA says re-enroll, and renewal stops with that state.
func TestRenewPastGrace(t *testing.T) {
	c := newTestCA(t, ca.WithRenewalGrace(time.Hour))
	cur := c.enroll(t, 2*time.Minute)
	late := cur.Leaf.NotAfter.Add(2 * time.Hour)
	c.clock.Store(&late)
	_, err := c.client(t).Renew(context.Background(), cur, time.Now())
	if !errors.Is(err, ErrReEnroll) || ClassOf(err) != ClassReEnroll {
		t.Fatalf("err = %v, want ErrReEnroll", err)
	}
	var e *Error
	if !errors.As(err, &e) || e.Status != http.StatusUnauthorized || !strings.Contains(e.Message, "re-enroll") {
		t.Errorf("error = %#v, want 401 with the CA's message", e)
	}
}

func TestRenewRevokedStops(t *testing.T) {
	c := newTestCA(t)
	cur := c.enroll(t, 2*time.Minute)
	path := filepath.Join(t.TempDir(), "device.crt")
	if err := WriteChain(path, cur); err != nil {
		t.Fatal(err)
	}
	before, _ := os.ReadFile(path)
	if err := c.e.Revoke(context.Background(), cur.Leaf.SerialNumber.String(), "stolen"); err != nil {
		t.Fatal(err)
	}
	clock := &fakeClock{}
	clock.Set(cur.Leaf.NotAfter.Add(-30 * time.Second)) // past the renewal point, still valid
	var logs logBuffer
	r, err := NewRenewer(Config{Client: c.client(t), CertPath: path, Now: clock.Now, Logger: logs.logger()}, cur)
	if err != nil {
		t.Fatal(err)
	}
	next, err := r.Step(context.Background())
	if !errors.Is(err, ErrRevoked) || !next.IsZero() {
		t.Fatalf("Step = %v, %v; want ErrRevoked and no next attempt", next, err)
	}
	if st := r.Status(); st.State != StateRevoked || !strings.Contains(st.LastError, "has been revoked") {
		t.Errorf("status = %+v", st)
	}
	// No retry loop: Run returns at once, without asking the CA again.
	n := c.requests.Load()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := r.Run(ctx); !errors.Is(err, ErrRevoked) {
		t.Errorf("Run = %v, want ErrRevoked", err)
	}
	clock.Set(clock.Now().Add(time.Hour))
	if _, err := r.Step(context.Background()); err != nil {
		t.Errorf("Step after stop = %v, want nothing done", err)
	}
	if c.requests.Load() != n {
		t.Errorf("%d more requests after revocation", c.requests.Load()-n)
	}
	// The working identity is untouched.
	after, _ := os.ReadFile(path)
	if string(after) != string(before) || !r.Certificate().Leaf.Equal(cur.Leaf) {
		t.Error("a refused renewal changed the stored or current certificate")
	}
	if got := strings.Count(logs.String(), "renewal stopped"); got != 1 {
		t.Errorf("logged the stop %d times, want once:\n%s", got, logs.String())
	}
}

func TestRootPinning(t *testing.T) {
	a, b := newTestCA(t), newTestCA(t)

	// The root the agent holds does not match the pin.
	if _, err := NewClient(a.url(), a.e.Roots()[0], b.e.Fingerprint()); !errors.Is(err, ErrFingerprintMismatch) {
		t.Errorf("NewClient with another tenant's pin: %v, want ErrFingerprintMismatch", err)
	}
	// Pins are accepted in step's colon and upper-case forms.
	if _, err := NewClient(a.url(), a.e.Roots()[0], strings.ToUpper(a.e.Fingerprint())); err != nil {
		t.Errorf("upper-case pin: %v", err)
	}

	// A server whose certificate does not chain to the pinned root: refused
	// in the handshake, before any request.
	cur := a.enroll(t, 2*time.Minute)
	pinnedToA, err := NewClient(b.url(), a.e.Roots()[0], a.e.Fingerprint())
	if err != nil {
		t.Fatal(err)
	}
	_, err = pinnedToA.Renew(context.Background(), cur, time.Now())
	if !errors.Is(err, ErrUntrustedCA) {
		t.Errorf("renew at another tenant's CA: %v, want ErrUntrustedCA", err)
	}
	if n := b.requests.Load(); n != 0 {
		t.Errorf("the untrusted CA received %d requests", n)
	}

	// A trusted server answering with a certificate for the same key from
	// another root: not handed back.
	forged := b.signFor(t, cur)
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.WriteHeader(http.StatusCreated)
		_ = json.NewEncoder(w).Encode(map[string]any{"certChain": []string{string(ca.PEM(forged)), string(ca.PEM(b.e.Intermediate()))}})
	}))
	srv.TLS = a.tlsConf.Clone()
	srv.StartTLS()
	defer srv.Close()
	cl, err := NewClient(srv.URL, a.e.Roots()[0], a.e.Fingerprint())
	if err != nil {
		t.Fatal(err)
	}
	got, err := cl.Renew(context.Background(), cur, time.Now())
	if !errors.Is(err, ErrMalformed) || got.Leaf != nil {
		t.Errorf("renew answered by a foreign chain: %v, %v; want ErrMalformed and nothing", got.Leaf, err)
	}
}
