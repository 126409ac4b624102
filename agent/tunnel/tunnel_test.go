package tunnel

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"errors"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/kiwistack/endpoint/agent/enrollment"
	"github.com/kiwistack/endpoint/agent/reconcile"
	"github.com/kiwistack/endpoint/agent/wgkey"
	"github.com/kiwistack/endpoint/enroll/protocol"
)

const (
	testTenant = "acme"
	testDevice = "d-0123456789abcdef0123456789abcdef"
	hubKey     = "xTIBA5rboUvnH4htodjb6e697QjLERt1NAB4mZqp8Dg="
)

func newTestKey(t *testing.T) *ecdsa.PrivateKey {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// testPKI is a tenant root that issues the API's server certificate and
// device certificates.
type testPKI struct {
	root *x509.Certificate
	key  *ecdsa.PrivateKey
	seq  atomic.Int64
}

func newTestPKI(t *testing.T) *testPKI {
	t.Helper()
	p := &testPKI{key: newTestKey(t)}
	p.root = p.issue(t, &x509.Certificate{Subject: pkix.Name{CommonName: "acme root"}, IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageCertSign}, &p.key.PublicKey)
	return p
}

// issue signs tmpl for pub with the root key (self-signed while the root
// is being made).
func (p *testPKI) issue(t *testing.T, tmpl *x509.Certificate, pub any) *x509.Certificate {
	t.Helper()
	tmpl.SerialNumber = big.NewInt(p.seq.Add(1))
	tmpl.NotBefore, tmpl.NotAfter = time.Now().Add(-time.Hour), time.Now().Add(24*time.Hour)
	parent := p.root
	if parent == nil {
		parent = tmpl
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, pub, p.key)
	if err != nil {
		t.Fatal(err)
	}
	c, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// device issues a device certificate for key binding the WireGuard key
// wgPublic.
func (p *testPKI) device(t *testing.T, key *ecdsa.PrivateKey, wgPublic string) *x509.Certificate {
	t.Helper()
	uri, err := protocol.WireGuardURI(wgPublic)
	if err != nil {
		t.Fatal(err)
	}
	u, err := url.Parse(uri)
	if err != nil {
		t.Fatal(err)
	}
	return p.issue(t, &x509.Certificate{Subject: pkix.Name{CommonName: testDevice},
		URIs: []*url.URL{protocol.DeviceURI(testTenant, testDevice), u}, KeyUsage: x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}, &key.PublicKey)
}

func writePEM(t *testing.T, path, typ string, der []byte) {
	t.Helper()
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
}

// fakeAPI is the tenant API's check-in: it answers cfg, or refuses with
// status and reason, and counts check-ins.
type fakeAPI struct {
	srv *httptest.Server

	mu      sync.Mutex
	cfg     protocol.AgentConfig
	status  int
	reason  string
	checkIn int
}

func newFakeAPI(t *testing.T, p *testPKI) *fakeAPI {
	t.Helper()
	a := &fakeAPI{}
	a.srv = httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		a.mu.Lock()
		defer a.mu.Unlock()
		if r.URL.Path != protocol.PathDeviceConfig || r.TLS == nil || len(r.TLS.PeerCertificates) == 0 {
			http.Error(w, "not a check-in", http.StatusBadRequest)
			return
		}
		a.checkIn++
		w.Header().Set("Content-Type", "application/json")
		if a.status != 0 {
			w.WriteHeader(a.status)
			_ = json.NewEncoder(w).Encode(protocol.ErrorResponse{Reason: a.reason, Message: "this device is revoked"})
			return
		}
		_ = json.NewEncoder(w).Encode(a.cfg)
	}))
	key := newTestKey(t)
	cert := p.issue(t, &x509.Certificate{Subject: pkix.Name{CommonName: "api"}, IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)},
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}, &key.PublicKey)
	pool := x509.NewCertPool()
	pool.AddCert(p.root)
	a.srv.TLS = &tls.Config{Certificates: []tls.Certificate{{Certificate: [][]byte{cert.Raw}, PrivateKey: key}},
		ClientAuth: tls.RequireAndVerifyClientCert, ClientCAs: pool}
	a.srv.StartTLS()
	t.Cleanup(a.srv.Close)
	return a
}

func (a *fakeAPI) set(f func(a *fakeAPI)) {
	a.mu.Lock()
	defer a.mu.Unlock()
	f(a)
}

func (a *fakeAPI) checkIns() int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.checkIn
}

// rig is an enrolled laptop (record, device key and certificate on disk),
// its tenant API and a controller over a FakeBackend.
type rig struct {
	pki     *testPKI
	api     *fakeAPI
	dir     string
	key     *ecdsa.PrivateKey
	wg      wgkey.Key
	rec     *enrollment.Record
	revoked atomic.Bool
	backend *FakeBackend
	c       *Controller
	skew    atomic.Int64 // added to the wall clock the controller sees
}

func wireGuard(endpoint string) *protocol.WireGuardConfig {
	return &protocol.WireGuardConfig{Endpoint: endpoint, PublicKey: hubKey, Address: "100.96.0.7/32",
		AllowedIPs: []string{"100.96.0.0/16", "10.20.0.0/24"}, HubAddress: "100.96.0.1"}
}

func newRig(t *testing.T) *rig {
	t.Helper()
	r := &rig{pki: newTestPKI(t), dir: t.TempDir(), key: newTestKey(t), backend: &FakeBackend{}}
	r.api = newFakeAPI(t, r.pki)
	var err error
	if r.wg, err = wgkey.Derive(r.key, testTenant, testDevice); err != nil {
		t.Fatal(err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(r.key)
	if err != nil {
		t.Fatal(err)
	}
	r.rec = &enrollment.Record{
		AgentConfig: protocol.AgentConfig{Version: 1, Tenant: testTenant, DeviceID: testDevice, CAURL: "https://ca.acme.test",
			APIURL: r.api.srv.URL, WireGuard: wireGuard("hub.acme.test:51820")},
		Certificate: filepath.Join(r.dir, "device.crt"), Key: filepath.Join(r.dir, "device.key"), Root: filepath.Join(r.dir, "root.crt"),
	}
	writePEM(t, r.rec.Key, "PRIVATE KEY", der)
	writePEM(t, r.rec.Root, "CERTIFICATE", r.pki.root.Raw)
	r.renew(t, r.wg.PublicKey)
	r.api.set(func(a *fakeAPI) { a.cfg = r.rec.AgentConfig })
	r.c = New(Options{StateDir: r.dir, Record: func() *enrollment.Record { return r.rec }, Revoked: r.revoked.Load,
		Backend: r.backend, NetworkManager: func() bool { return false },
		Now: func() time.Time { return time.Now().Add(time.Duration(r.skew.Load())) }})
	return r
}

// renew installs a new device certificate binding wgPublic.
func (r *rig) renew(t *testing.T, wgPublic string) {
	t.Helper()
	writePEM(t, r.rec.Certificate, "CERTIFICATE", r.pki.device(t, r.key, wgPublic).Raw)
}

func (r *rig) reconcile(t *testing.T) (time.Time, error) {
	t.Helper()
	return r.c.Reconcile(context.Background())
}

func (r *rig) spec() *Spec {
	r.backend.mu.Lock()
	defer r.backend.mu.Unlock()
	if r.backend.Spec == nil {
		return nil
	}
	s := *r.backend.Spec
	return &s
}

func (r *rig) counts() (ups, downs int) {
	r.backend.mu.Lock()
	defer r.backend.mu.Unlock()
	return r.backend.Ups, r.backend.Downs
}

func TestControllerUp(t *testing.T) {
	r := newRig(t)
	next, err := r.reconcile(t)
	if err != nil || time.Until(next) < CheckInInterval-time.Minute {
		t.Fatalf("Reconcile = %v, %v; want no retry, only the periodic check-in", next, err)
	}
	want := Spec{Interface: DefaultInterface, PrivateKey: r.wg.PrivateKey, Address: netip.MustParsePrefix("100.96.0.7/32"),
		Peer: Peer{PublicKey: hubKey, Endpoint: "hub.acme.test:51820", Keepalive: PersistentKeepalive,
			AllowedIPs: []netip.Prefix{netip.MustParsePrefix("100.96.0.0/16"), netip.MustParsePrefix("10.20.0.0/24")}}}
	got := r.spec()
	if got == nil || got.Interface != want.Interface || got.PrivateKey != want.PrivateKey || got.Address != want.Address ||
		got.Peer.PublicKey != want.Peer.PublicKey || got.Peer.Endpoint != want.Peer.Endpoint ||
		got.Peer.Keepalive != want.Peer.Keepalive || !equalPrefixes(got.Peer.AllowedIPs, want.Peer.AllowedIPs) {
		t.Fatalf("backend spec %+v, want %+v", got, want)
	}
	if state, msg := r.c.State(); state != StateUp || !strings.Contains(msg, "hub.acme.test:51820") {
		t.Errorf("state %q %q, want up with the hub", state, msg)
	}
	st := r.c.Status()
	if st.State != StateUp || st.Backend != "fake" || st.Address != "100.96.0.7/32" || st.Interface != DefaultInterface {
		t.Errorf("status %+v", st)
	}
	if n := r.api.checkIns(); n != 1 {
		t.Errorf("%d check-ins, want 1", n)
	}
	if _, err := os.Stat(filepath.Join(r.dir, ConfigFile)); err != nil {
		t.Errorf("the check-in was not cached: %v", err)
	}
	if strings.Contains(st.Message, r.wg.PrivateKey) {
		t.Error("the status carries the private key")
	}
}

func equalPrefixes(a, b []netip.Prefix) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestControllerUnchanged(t *testing.T) {
	r := newRig(t)
	if _, err := r.reconcile(t); err != nil {
		t.Fatal(err)
	}
	first := r.spec()
	for range 3 {
		// Nothing to do but the next periodic check-in.
		if next, err := r.reconcile(t); err != nil || time.Until(next) < CheckInInterval-time.Minute || time.Until(next) > CheckInInterval {
			t.Fatalf("Reconcile = %v, %v; want the next check-in in %s", next, err, CheckInInterval)
		}
	}
	if _, downs := r.counts(); downs != 0 {
		t.Errorf("%d Downs of an unchanged tunnel", downs)
	}
	if got := r.spec(); got == nil || got.Peer.Endpoint != first.Peer.Endpoint || got.PrivateKey != first.PrivateKey || got.Address != first.Address {
		t.Errorf("spec changed to %+v from %+v", got, first)
	}
	if n := r.api.checkIns(); n != 1 {
		t.Errorf("%d check-ins with the same certificate, want 1 (the cached answer serves)", n)
	}
	if state, _ := r.c.State(); state != StateUp {
		t.Errorf("state %q, want up", state)
	}
	// An hour on, the agent checks in again with the same certificate, so
	// that the tenant's changes reach it without a renewal.
	r.skew.Store(int64(CheckInInterval))
	if _, err := r.reconcile(t); err != nil {
		t.Fatal(err)
	}
	if n := r.api.checkIns(); n != 2 {
		t.Errorf("%d check-ins after %s, want 2", n, CheckInInterval)
	}
}

func TestControllerNewEndpoint(t *testing.T) {
	r := newRig(t)
	if _, err := r.reconcile(t); err != nil {
		t.Fatal(err)
	}
	r.api.set(func(a *fakeAPI) { a.cfg.WireGuard = wireGuard("hub2.acme.test:51821") })
	// The agent checks in again after a renewal: a new serial.
	r.renew(t, r.wg.PublicKey)
	if _, err := r.reconcile(t); err != nil {
		t.Fatal(err)
	}
	if s := r.spec(); s == nil || s.Peer.Endpoint != "hub2.acme.test:51821" {
		t.Fatalf("backend spec %+v, want the new endpoint", s)
	}
	if ups, downs := r.counts(); ups != 2 || downs != 0 {
		t.Errorf("%d Ups and %d Downs, want the tunnel reconfigured in place (2, 0)", ups, downs)
	}
	if _, msg := r.c.State(); !strings.Contains(msg, "hub2.acme.test:51821") {
		t.Errorf("state message %q does not name the new hub", msg)
	}
}

func TestControllerKeyMismatch(t *testing.T) {
	r := newRig(t)
	other, err := wgkey.Derive(newTestKey(t), testTenant, testDevice)
	if err != nil {
		t.Fatal(err)
	}
	r.renew(t, other.PublicKey)
	next, err := r.reconcile(t)
	if err == nil || next.IsZero() {
		t.Fatalf("Reconcile = %v, %v; want an error and a retry", next, err)
	}
	if ups, _ := r.counts(); ups != 0 {
		t.Errorf("the backend was brought up %d times with a key the certificate does not bind", ups)
	}
	if state, msg := r.c.State(); state != StateError || !strings.Contains(msg, "does not bind the WireGuard key") {
		t.Errorf("state %q %q, want error naming the key mismatch", state, msg)
	}
}

func TestControllerRevoked(t *testing.T) {
	for _, tc := range []struct {
		name   string
		revoke func(t *testing.T, r *rig)
	}{
		{"certificate revoked", func(_ *testing.T, r *rig) { r.revoked.Store(true) }},
		{"api says inactive", func(t *testing.T, r *rig) {
			r.api.set(func(a *fakeAPI) { a.status, a.reason = http.StatusForbidden, "device_inactive" })
			r.renew(t, r.wg.PublicKey)
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := newRig(t)
			if _, err := r.reconcile(t); err != nil {
				t.Fatal(err)
			}
			tc.revoke(t, r)
			next, err := r.reconcile(t)
			if err != nil || !next.IsZero() {
				t.Fatalf("Reconcile = %v, %v; want down for good, no retry", next, err)
			}
			if _, downs := r.counts(); downs != 1 || r.spec() != nil {
				t.Errorf("%d Downs, spec %+v; want the tunnel down", downs, r.spec())
			}
			if state, _ := r.c.State(); state != StateRevoked {
				t.Errorf("state %q, want revoked", state)
			}
			if st := r.c.Status(); st.State != StateRevoked || st.Address != "" {
				t.Errorf("status %+v, want revoked without an address", st)
			}
			// It stays down.
			if _, err := r.reconcile(t); err != nil {
				t.Fatal(err)
			}
			if ups, _ := r.counts(); ups != 1 {
				t.Errorf("%d Ups, want the tunnel to stay down", ups)
			}
		})
	}
}

func TestControllerBackendErrors(t *testing.T) {
	r := newRig(t)
	r.backend.Err = errors.New("operation not permitted")
	for i := range 3 {
		next, err := r.reconcile(t)
		if err == nil || next.IsZero() {
			t.Fatalf("Reconcile %d = %v, %v; want an error and a retry", i, next, err)
		}
	}
	if state, msg := r.c.State(); state != StateError || !strings.Contains(msg, "operation not permitted") {
		t.Errorf("state %q %q, want error with the backend's", state, msg)
	}
	// It recovers, and a later failure leaves the working tunnel up.
	r.backend.mu.Lock()
	r.backend.Err = nil
	r.backend.mu.Unlock()
	if _, err := r.reconcile(t); err != nil {
		t.Fatal(err)
	}
	if state, _ := r.c.State(); state != StateUp {
		t.Fatalf("state %q after recovery, want up", state)
	}
	r.backend.mu.Lock()
	r.backend.Err = errors.New("netlink: busy")
	r.backend.mu.Unlock()
	if _, err := r.reconcile(t); err == nil {
		t.Fatal("a failed update reported no error")
	}
	if state, _ := r.c.State(); state != StateUp {
		t.Errorf("state %q after a failed update, want the tunnel still up", state)
	}
}

func TestControllerNotEnrolled(t *testing.T) {
	b := &FakeBackend{}
	c := New(Options{StateDir: t.TempDir(), Record: func() *enrollment.Record { return nil }, Backend: b,
		NetworkManager: func() bool { return false }})
	if next, err := c.Reconcile(context.Background()); err != nil || !next.IsZero() {
		t.Fatalf("Reconcile = %v, %v", next, err)
	}
	if state, _ := c.State(); state != StateNotConfigured || b.Ups != 0 {
		t.Errorf("state %q with %d Ups, want not configured and idle", state, b.Ups)
	}
}

// TestControllerInLoop: a failing backend shows in the loop's statuses and
// backs off, the loop keeps running, and a trigger after the fix brings
// the tunnel up.
func TestControllerInLoop(t *testing.T) {
	r := newRig(t)
	r.backend.Err = errors.New("creating tun device kiwistack0: operation not permitted")
	passes := make(chan struct{}, 16)
	l := reconcile.New(reconcile.Options{AfterPass: func() { passes <- struct{}{} }}, r.c)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- l.Run(ctx) }()
	defer func() {
		cancel()
		<-done
	}()
	pass := func() {
		t.Helper()
		select {
		case <-passes:
		case <-time.After(10 * time.Second):
			t.Fatal("no reconcile pass")
		}
	}
	pass()
	st := l.Statuses()[0]
	if st.State != StateError || !strings.Contains(st.LastError, "operation not permitted") || time.Until(st.Next) < retryMin/2 {
		t.Fatalf("status %+v, want error with the backend's and a retry in about %s", st, retryMin)
	}
	r.backend.mu.Lock()
	r.backend.Err = nil
	r.backend.mu.Unlock()
	l.Trigger()
	pass()
	if st := l.Statuses()[0]; st.State != StateUp || st.LastError != "" || time.Until(st.Next) < CheckInInterval/2 {
		t.Errorf("status %+v after the fix, want up with nothing but the periodic check-in to come", st)
	}
}
