package daemon

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"io"
	"log"
	mrand "math/rand/v2"
	"net"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/kiwistack/endpoint/agent/enrollment"
	"github.com/kiwistack/endpoint/agent/renew"
	"github.com/kiwistack/endpoint/agent/status"
	"github.com/kiwistack/endpoint/enroll/protocol"
	"github.com/kiwistack/endpoint/platform/localsock"
	"github.com/kiwistack/endpoint/platform/paths"
	"github.com/kiwistack/endpoint/platform/power"
	"github.com/kiwistack/endpoint/server/ca"
)

// zeroSource makes every jitter zero (Int64N of a source that always
// yields 1 is 0).
type zeroSource struct{}

func (zeroSource) Uint64() uint64 { return 1 }

type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) Now() time.Time  { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *fakeClock) Set(t time.Time) { c.mu.Lock(); defer c.mu.Unlock(); c.t = t }

// enrolled is a root holding what `kiwistack-enroll enroll` installs, for a
// device certificate the real embedded step-ca signed, and that CA served
// over TLS.
type enrolled struct {
	root  string
	e     *ca.Embedded
	srv   *httptest.Server
	leaf  *x509.Certificate
	roots *x509.CertPool // for the test server's TLS certificate
}

func enroll(t *testing.T, lifetime time.Duration) *enrolled {
	t.Helper()
	e, err := ca.Open(t.TempDir(), "acme", ca.WithMinLifetime(time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = e.Close() })
	srv := httptest.NewUnstartedServer(e.Handler())
	srv.TLS = &tls.Config{ClientAuth: tls.VerifyClientCertIfGiven, ClientCAs: e.ClientCAs()}
	srv.Config.ErrorLog = log.New(io.Discard, "", 0)
	srv.StartTLS()
	t.Cleanup(srv.Close)
	pool := x509.NewCertPool()
	pool.AddCert(srv.Certificate())

	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{}, key)
	if err != nil {
		t.Fatal(err)
	}
	csr, _ := x509.ParseCertificateRequest(der)
	leaf, chain, err := e.Sign(context.Background(), csr, "dev-1", lifetime)
	if err != nil {
		t.Fatal(err)
	}
	root := t.TempDir()
	l := paths.Under(root)
	keyDER, _ := x509.MarshalPKCS8PrivateKey(key)
	certPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: leaf.Raw})
	for _, c := range chain {
		certPEM = append(certPEM, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Raw})...)
	}
	rec, _ := json.Marshal(enrollment.Record{
		AgentConfig: protocol.AgentConfig{Version: 1, Tenant: "acme", DeviceID: "dev-1", CAURL: srv.URL,
			RootFingerprint: e.Fingerprint(), APIURL: "https://api.acme.test"},
		Certificate: l.DeviceCert(), Key: l.DeviceKey(), Root: l.RootCert(),
	})
	for path, data := range map[string][]byte{
		l.DeviceKey():  pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}),
		l.DeviceCert(): certPEM,
		l.RootCert():   pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: e.Roots()[0].Raw}),
		l.Enrollment(): rec,
	} {
		if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, data, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return &enrolled{root: root, e: e, srv: srv, leaf: leaf, roots: pool}
}

// start runs a daemon for en until the test ends and returns it with a
// status client.
func start(t *testing.T, o Options) (*Daemon, *status.Client) {
	t.Helper()
	ready := make(chan struct{})
	o.Ready = ready
	if o.Power.BusAddress == "" {
		o.Power = power.Options{BusAddress: "unix:path=" + filepath.Join(t.TempDir(), "no-bus")}
	}
	d := New(o)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- d.Run(ctx) }()
	select {
	case <-ready:
	case err := <-done:
		t.Fatalf("daemon did not start: %v", err)
	}
	sock := d.o.Socket
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run = %v, want nil after cancel", err)
		}
		if _, err := os.Stat(sock); err == nil {
			t.Errorf("socket %s left behind", sock)
		}
	})
	return d, status.NewClient(func(ctx context.Context) (net.Conn, error) { return localsock.Dial(ctx, sock) })
}

// waitFor polls the daemon's status (the test, not the daemon, polls).
func waitFor(t *testing.T, c *status.Client, what string, ok func(*status.Status) bool) *status.Status {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		s, err := c.Get(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if ok(s) {
			return s
		}
		if time.Now().After(deadline) {
			b, _ := json.MarshalIndent(s, "", "  ")
			t.Fatalf("timed out waiting for %s; status:\n%s", what, b)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestDaemonRenewsAndStops runs the daemon against the real embedded
// step-ca with a 2-minute certificate: status over the socket, no wake-ups
// while idle, renewal at the wall-clock deadline after a resume (the clock
// jumped), the file replaced atomically, revocation stops renewal for good
// and status says to re-enroll, and a clean stop.
func TestDaemonRenewsAndStops(t *testing.T) {
	en := enroll(t, 2*time.Minute)
	clock := &fakeClock{}
	clock.Set(time.Now())
	// No jitter: the wall clock is faked ahead of the CA's, and a new
	// certificate's renewal point must stay after the faked now.
	d, c := start(t, Options{Root: en.root, Now: clock.Now, Policy: renew.Policy{Rand: mrand.New(zeroSource{})},
		ClientOptions: []renew.ClientOption{renew.WithServerRoots(en.roots)}})

	s := waitFor(t, c, "the certificate loaded", func(s *status.Status) bool { return s.Certificate != nil })
	if !s.Enrollment.Enrolled || s.Enrollment.Tenant != "acme" || s.Enrollment.DeviceID != "dev-1" {
		t.Errorf("enrollment = %+v", s.Enrollment)
	}
	cert := s.Certificate
	life := en.leaf.NotAfter.Sub(en.leaf.NotBefore)
	latest := en.leaf.NotAfter.Add(-life / 3)
	if cert.State != "valid" || cert.Serial != en.leaf.SerialNumber.String() || !cert.NotAfter.Equal(en.leaf.NotAfter) ||
		!cert.NextRenewal.Equal(latest) {
		t.Errorf("certificate status = %+v, want valid, renewal at two thirds of the lifetime", cert)
	}
	if s.Tunnel.State != TunnelNotConfigured || s.Resume != string(power.SourceClockJump) || len(s.Controllers) != 9 || s.Fleet == nil || s.Fleet.State != "not configured" || s.Directory == nil || s.Directory.State != "not configured" ||
		s.Disk == nil || s.Disk.State != "not configured" {
		t.Errorf("status = %+v", s)
	}

	// Idle: the next deadline is a minute away; the loop must not wake.
	w0 := d.Wakeups()
	time.Sleep(500 * time.Millisecond)
	if w := d.Wakeups() - w0; w != 0 {
		t.Errorf("%d wake-ups while idle, want 0", w)
	}

	certPath := paths.Under(en.root).DeviceCert()
	before, _ := os.ReadFile(certPath)
	time.Sleep(1100 * time.Millisecond)                       // a later NotAfter, at one-second resolution
	clock.Set(cert.NextRenewal.Add(500 * time.Millisecond))   // slept past the deadline
	if err := c.Reconcile(context.Background()); err != nil { // as a resume would
		t.Fatal(err)
	}
	s = waitFor(t, c, "a renewal", func(s *status.Status) bool { return s.Certificate.Serial != cert.Serial })
	if s.Certificate.State != "valid" || !s.Certificate.NotAfter.After(cert.NotAfter) || s.Certificate.LastRenewal.IsZero() {
		t.Errorf("after renewal: %+v", s.Certificate)
	}
	after, _ := os.ReadFile(certPath)
	if string(after) == string(before) {
		t.Fatal("the certificate file did not change")
	}
	b, _ := pem.Decode(after)
	leaf, err := x509.ParseCertificate(b.Bytes)
	if err != nil || leaf.SerialNumber.String() != s.Certificate.Serial {
		t.Fatalf("stored certificate is not the renewed one: %v", err)
	}
	entries, _ := os.ReadDir(filepath.Dir(certPath))
	for _, e := range entries {
		if strings.Contains(e.Name(), ".tmp-") {
			t.Errorf("temporary file %s left behind", e.Name())
		}
	}
	// The state file follows at the end of the pass.
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		st, err := ReadState(paths.Under(en.root))
		if err == nil && st.Certificate != nil && st.Certificate.Serial == s.Certificate.Serial {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("state file does not hold the renewed serial: %+v, %v", st, err)
		}
	}

	// Revoked mid-life: the next renewal is refused, renewal stops, the
	// files stay, status says to re-enroll.
	if err := en.e.Revoke(context.Background(), s.Certificate.Serial, "stolen"); err != nil {
		t.Fatal(err)
	}
	clock.Set(s.Certificate.NextRenewal.Add(time.Second))
	if err := c.Reconcile(context.Background()); err != nil {
		t.Fatal(err)
	}
	s = waitFor(t, c, "revocation", func(s *status.Status) bool { return s.Certificate.State == "revoked" })
	if !s.Certificate.ReEnroll || !s.Certificate.NextRenewal.IsZero() {
		t.Errorf("revoked: %+v", s.Certificate)
	}
	if now, _ := os.ReadFile(certPath); string(now) != string(after) {
		t.Error("a refused renewal changed the stored certificate")
	}
}

// TestDaemonNotEnrolled: with no enrollment record the daemon runs, says so,
// and wakes for nothing.
func TestDaemonNotEnrolled(t *testing.T) {
	d, c := start(t, Options{Root: t.TempDir()})
	s := waitFor(t, c, "a pass", func(s *status.Status) bool { return len(s.Controllers) == 9 && !s.Controllers[0].LastRun.IsZero() })
	if s.Enrollment.Enrolled || s.Certificate != nil || s.Controllers[0].State != "not enrolled" {
		t.Errorf("status = %+v", s)
	}
	if d.Wakeups() != 0 {
		t.Errorf("%d wake-ups, want 0", d.Wakeups())
	}
}
