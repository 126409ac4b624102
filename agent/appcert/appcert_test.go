package appcert

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
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/kiwistack/endpoint/agent/enrollment"
	"github.com/kiwistack/endpoint/enroll/protocol"
)

// fakeAPI is the tenant API's two device endpoints over mutual TLS,
// signing with a testCA.
type fakeAPI struct {
	ca       *testCA
	srv      *httptest.Server
	inactive atomic.Bool
	failing  atomic.Bool
	issued   atomic.Int32
	checks   atomic.Int32
	life     time.Duration
}

func newFakeAPI(t *testing.T) (*fakeAPI, *enrollment.Record) {
	t.Helper()
	ca := newTestCA(t)
	f := &fakeAPI{ca: ca, life: time.Hour}
	f.srv = httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if len(r.TLS.PeerCertificates) == 0 {
			http.Error(w, "no client certificate", http.StatusUnauthorized)
			return
		}
		if f.inactive.Load() {
			w.WriteHeader(http.StatusForbidden)
			_ = json.NewEncoder(w).Encode(protocol.ErrorResponse{Reason: "device_inactive", Message: "this device is revoked"})
			return
		}
		if f.failing.Load() {
			w.WriteHeader(http.StatusBadGateway)
			_ = json.NewEncoder(w).Encode(protocol.ErrorResponse{Reason: "ca_unavailable", Message: "the CA is down"})
			return
		}
		switch r.URL.Path {
		case protocol.PathDeviceConfig:
			f.checks.Add(1)
			_, _ = w.Write([]byte("{}"))
		case protocol.PathAppCertificate:
			var req protocol.AppCertificateRequest
			if err := protocol.DecodeJSON(r.Body, protocol.MaxRequestBytes, &req); err != nil || req.Validate() != nil {
				http.Error(w, "bad request", http.StatusBadRequest)
				return
			}
			b, _ := pem.Decode([]byte(req.CSR))
			leaf := ca.sign(t, b.Bytes, req.User, time.Now().Add(-time.Minute), f.life)
			f.issued.Add(1)
			w.WriteHeader(http.StatusCreated)
			_ = json.NewEncoder(w).Encode(protocol.AppCertificateResponse{
				Certificate: string(pemCert(leaf)) + string(pemCert(ca.inter)), Root: string(pemCert(ca.root)),
				NotAfter: leaf.NotAfter.UTC().Format(protocol.TimestampLayout)})
		default:
			http.NotFound(w, r)
		}
	}))
	f.srv.TLS = &tls.Config{ClientAuth: tls.RequireAnyClientCert, Certificates: []tls.Certificate{ca.issue(t, "127.0.0.1", x509.ExtKeyUsageServerAuth)}}
	f.srv.StartTLS()
	t.Cleanup(f.srv.Close)

	dir := t.TempDir()
	dev := ca.issue(t, "d1", x509.ExtKeyUsageClientAuth)
	keyDER, err := x509.MarshalECPrivateKey(dev.PrivateKey.(*ecdsa.PrivateKey))
	if err != nil {
		t.Fatal(err)
	}
	rec := &enrollment.Record{AgentConfig: protocol.AgentConfig{Version: 1, Tenant: "acme", DeviceID: "d1", APIURL: f.srv.URL},
		Certificate: filepath.Join(dir, "device.crt"), Key: filepath.Join(dir, "device.key"), Root: filepath.Join(dir, "root.crt")}
	var chain []byte
	for _, der := range dev.Certificate {
		chain = append(chain, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})...)
	}
	for p, data := range map[string][]byte{
		rec.Certificate: chain, rec.Key: pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER}), rec.Root: pemCert(ca.root),
	} {
		if err := os.WriteFile(p, data, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return f, rec
}

// issue makes a TLS certificate from the intermediate for cn (an IP SAN
// when cn is one).
func (ca *testCA) issue(t *testing.T, cn string, eku x509.ExtKeyUsage) tls.Certificate {
	t.Helper()
	k, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	serial, _ := rand.Int(rand.Reader, big.NewInt(1<<62))
	tmpl := &x509.Certificate{SerialNumber: serial, Subject: pkix.Name{CommonName: cn}, NotBefore: time.Now().Add(-time.Hour),
		NotAfter: time.Now().Add(24 * time.Hour), KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{eku}}
	if ip := net.ParseIP(cn); ip != nil {
		tmpl.IPAddresses = []net.IP{ip}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.inter, &k.PublicKey, ca.interKey)
	if err != nil {
		t.Fatal(err)
	}
	return tls.Certificate{Certificate: [][]byte{der, ca.inter.Raw}, PrivateKey: k}
}

// memStore is a Store in memory.
type memStore struct {
	mu    sync.Mutex
	certs map[string]*x509.Certificate
}

func (m *memStore) Location(u User) string { return "mem:" + u.Name }
func (m *memStore) Installed(_ context.Context, u User) (*x509.Certificate, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.certs[u.Name], nil
}
func (m *memStore) NewKey(_ context.Context, _ User, cn string) ([]byte, Key, error) {
	der, k, err := goKey(cn)
	return der, k, err
}
func (m *memStore) Install(_ context.Context, u User, _ Key, chain []*x509.Certificate, _ *x509.Certificate) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.certs[u.Name] = chain[0]
	return nil
}
func (m *memStore) Discard(context.Context, User, Key) error { return nil }
func (m *memStore) Remove(_ context.Context, u User) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.certs, u.Name)
	return nil
}

type env struct {
	api     *fakeAPI
	rec     *enrollment.Record
	store   *memStore
	now     time.Time
	revoked atomic.Bool
	users   []User
	c       *Controller
}

func newTestEnv(t *testing.T) *env {
	t.Helper()
	e := &env{store: &memStore{certs: map[string]*x509.Certificate{}}, now: time.Now(),
		users: []User{{Name: "alice", UID: -1, GID: -1, Home: "/home/alice"}, {Name: "bob", UID: -1, GID: -1, Home: "/home/bob"}}}
	e.api, e.rec = newFakeAPI(t)
	e.c = New(Options{
		Record:  func() *enrollment.Record { return e.rec },
		Revoked: e.revoked.Load,
		Users:   func() ([]User, error) { return e.users, nil },
		Store:   func(string, string) Store { return e.store },
		Now:     func() time.Time { return e.now },
	})
	return e
}

func TestControllerInstallsAndRenews(t *testing.T) {
	e := newTestEnv(t)
	next, err := e.c.Reconcile(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	st := e.c.Status()
	if st.State != StateInstalled || len(st.Users) != 2 || !st.Users[0].Installed || !st.Users[1].Installed {
		t.Fatalf("status %+v", st)
	}
	if e.api.issued.Load() != 2 || e.api.checks.Load() != 1 {
		t.Errorf("issued %d, checks %d; want 2 and 1", e.api.issued.Load(), e.api.checks.Load())
	}
	alice := e.store.certs["alice"]
	if alice.Subject.CommonName != "alice@d1" {
		t.Errorf("alice's certificate CN %q", alice.Subject.CommonName)
	}
	// Next: the earlier of the activity check and the renewal.
	if want := e.now.Add(DefaultCheckInterval); !next.Equal(want) {
		t.Errorf("next %s, want the activity check at %s", next, want)
	}

	// Nothing is due: nothing is issued.
	if _, err := e.c.Reconcile(context.Background()); err != nil || e.api.issued.Load() != 2 {
		t.Fatalf("second pass: %v, issued %d", err, e.api.issued.Load())
	}
	// Past two thirds of the lifetime: both renewed.
	e.now = renewAt(alice).Add(time.Second)
	if _, err := e.c.Reconcile(context.Background()); err != nil {
		t.Fatal(err)
	}
	if e.api.issued.Load() != 4 || e.store.certs["alice"].Equal(alice) {
		t.Errorf("issued %d after renewal time; alice's certificate replaced: %v", e.api.issued.Load(), !e.store.certs["alice"].Equal(alice))
	}
}

func TestControllerRemovesOnRevocation(t *testing.T) {
	for _, tc := range []struct {
		name   string
		revoke func(e *env)
		want   string
	}{
		{"renewal refused as revoked", func(e *env) { e.revoked.Store(true) }, "the device certificate is revoked"},
		{"check-in says inactive", func(e *env) { e.api.inactive.Store(true); e.now = e.now.Add(DefaultCheckInterval) }, "no longer active: this device is revoked"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newTestEnv(t)
			if _, err := e.c.Reconcile(context.Background()); err != nil {
				t.Fatal(err)
			}
			tc.revoke(e)
			next, err := e.c.Reconcile(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			st := e.c.Status()
			if st.State != StateRevoked || !strings.Contains(st.Message, tc.want) || !next.IsZero() {
				t.Errorf("state %s %q next %s; want revoked, %q, idle", st.State, st.Message, next, tc.want)
			}
			if len(e.store.certs) != 0 {
				t.Errorf("certificates left: %v", e.store.certs)
			}
			for _, u := range st.Users {
				if u.Installed {
					t.Errorf("%s still installed", u.User)
				}
			}
			// It stays revoked without asking again.
			e.api.inactive.Store(false)
			issued := e.api.issued.Load()
			if _, err := e.c.Reconcile(context.Background()); err != nil || e.c.Status().State != StateRevoked || e.api.issued.Load() != issued {
				t.Errorf("after revocation: %v, %s, issued %d more", err, e.c.Status().State, e.api.issued.Load()-issued)
			}
		})
	}
}

func TestControllerExpired(t *testing.T) {
	e := newTestEnv(t)
	if _, err := e.c.Reconcile(context.Background()); err != nil {
		t.Fatal(err)
	}
	// The laptop slept past the certificate's end and the API is down.
	e.api.srv.Close()
	e.now = e.store.certs["alice"].NotAfter.Add(time.Minute)
	next, err := e.c.Reconcile(context.Background())
	if err == nil {
		t.Fatal("no error with the API down")
	}
	st := e.c.Status()
	if st.State != StateExpired || !strings.Contains(st.Message, "expired at") || !strings.Contains(st.Message, "refuse this browser") {
		t.Errorf("status %s %q, want expired with a clear message", st.State, st.Message)
	}
	if !st.Users[0].Expired || st.Users[0].LastError == "" {
		t.Errorf("alice %+v, want expired with the error", st.Users[0])
	}
	if next.Sub(e.now) > retryMin || next.Before(e.now) {
		t.Errorf("retry at %s, want within %s", next, retryMin)
	}
}

func TestControllerRefusalAndIdle(t *testing.T) {
	e := newTestEnv(t)
	e.api.failing.Store(true)
	if _, err := e.c.Reconcile(context.Background()); err == nil {
		t.Fatal("no error when the API refuses")
	}
	if st := e.c.Status(); st.State != StateError || !strings.Contains(st.Message, "ca_unavailable") || len(e.store.certs) != 0 {
		t.Errorf("status %+v, store %v", st, e.store.certs)
	}

	e.users = nil
	checks := e.api.checks.Load()
	if next, err := e.c.Reconcile(context.Background()); err != nil || !next.IsZero() || e.c.Status().State != StateNoUsers || e.api.checks.Load() != checks {
		t.Errorf("no users: %v %s %s, api asked %d times", err, next, e.c.Status().State, e.api.checks.Load()-checks)
	}
	e.rec = nil
	if _, err := e.c.Reconcile(context.Background()); err != nil || e.c.Status().State != StateIdle {
		t.Errorf("not enrolled: %v %s", err, e.c.Status().State)
	}
}

func TestParsePasswd(t *testing.T) {
	data := []byte(`root:x:0:0:root:/root:/bin/bash
daemon:x:1:1:daemon:/usr/sbin:/usr/sbin/nologin
# a comment

alice:x:1000:1000:Alice,,,:/home/alice:/bin/bash
svc:x:1001:1001::/var/lib/svc:/usr/sbin/nologin
bob:x:1002:1002::/home/bob:/bin/zsh
Carol:x:1003:1003::/home/carol:/bin/bash
nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin
dave:x:1004:1004::relative:/bin/sh
`)
	us, err := ParsePasswd(data)
	if err != nil {
		t.Fatal(err)
	}
	if len(us) != 2 || us[0] != (User{Name: "alice", UID: 1000, GID: 1000, Home: "/home/alice"}) || us[1].Name != "bob" {
		t.Errorf("users %+v, want alice and bob", us)
	}
	for _, bad := range []string{"alice:x:1000:1000:/home/alice:/bin/bash\n", "alice:x:10x0:1000::/home/alice:/bin/bash\n", "a:x:-1:1::/h:/bin/sh\n"} {
		if _, err := ParsePasswd([]byte(bad)); err == nil {
			t.Errorf("%q parsed", bad)
		}
	}
}

// FuzzParsePasswd: any bytes give users that pass the filters or an error.
func FuzzParsePasswd(f *testing.F) {
	f.Add([]byte("alice:x:1000:1000::/home/alice:/bin/bash\n"))
	f.Add([]byte("root:x:0:0:root:/root:/bin/bash\nbob:x:1002:1002::/home/bob:/bin/zsh"))
	f.Add([]byte("a:b:c\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		us, err := ParsePasswd(data)
		if err != nil {
			if us != nil {
				t.Fatal("users with an error")
			}
			return
		}
		for _, u := range us {
			if protocol.CheckUser(u.Name) != nil || u.UID < firstUID || u.UID > lastUID || !filepath.IsAbs(u.Home) || u.Home == "/" {
				t.Fatalf("user %+v passed the filters", u)
			}
		}
	})
}
