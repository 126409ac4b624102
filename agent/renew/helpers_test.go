package renew

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"io"
	"log"
	"log/slog"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/kiwistack/endpoint/server/ca"
)

// testCA is the real embedded step-ca of server/ca, served over TLS with a
// server certificate issued under the tenant root, asking for client
// certificates as step-ca does.
type testCA struct {
	e        *ca.Embedded
	srv      *httptest.Server
	addr     string
	tlsConf  *tls.Config
	requests atomic.Int64
	clock    atomic.Pointer[time.Time] // the CA's clock for its grace check; nil is real time
}

func newTestCA(t *testing.T, opts ...ca.Option) *testCA {
	t.Helper()
	dir := t.TempDir()
	c := &testCA{}
	clock := func() time.Time {
		if p := c.clock.Load(); p != nil {
			return *p
		}
		return time.Now()
	}
	e, err := ca.Open(dir, "acme", append([]ca.Option{ca.WithClock(clock)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := e.Close(); err != nil {
			t.Error(err)
		}
	})
	c.e = e
	c.tlsConf = &tls.Config{
		ClientAuth: tls.VerifyClientCertIfGiven, ClientCAs: e.ClientCAs(),
		Certificates: []tls.Certificate{serverCert(t, dir, e.Roots()[0])},
	}
	c.start(t, "127.0.0.1:0")
	return c
}

// serverCert issues a TLS server certificate for 127.0.0.1 and localhost
// under the tenant root, read from the CA's state directory.
func serverCert(t *testing.T, dir string, root *x509.Certificate) tls.Certificate {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(dir, ca.RootKeyFile))
	if err != nil {
		t.Fatal(err)
	}
	b, _ := pem.Decode(data)
	if b == nil {
		t.Fatal("no PEM in root key file")
	}
	rootKey, err := x509.ParsePKCS8PrivateKey(b.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	key := newKey(t)
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(time.Now().UnixNano()), Subject: pkix.Name{CommonName: "localhost"},
		DNSNames: []string{"localhost"}, IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, root, key.Public(), rootKey)
	if err != nil {
		t.Fatal(err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
}

// start serves the CA on addr ("127.0.0.1:0" the first time, the same
// address again after stop).
func (c *testCA) start(t *testing.T, addr string) {
	t.Helper()
	var l net.Listener
	var err error
	for range 50 { // the old socket may linger for a moment
		if l, err = net.Listen("tcp", addr); err == nil {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err != nil {
		t.Fatal(err)
	}
	h := c.e.Handler()
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c.requests.Add(1)
		h.ServeHTTP(w, r)
	}))
	srv.Listener.Close()
	srv.Listener = l
	srv.Config.ErrorLog = log.New(io.Discard, "", 0) // refused handshakes are expected
	srv.TLS = c.tlsConf.Clone()
	srv.StartTLS()
	t.Cleanup(srv.Close)
	c.srv, c.addr = srv, l.Addr().String()
}

func (c *testCA) stop() { c.srv.Close() }

func (c *testCA) url() string { return "https://" + c.addr }

func (c *testCA) client(t *testing.T) *Client {
	t.Helper()
	cl, err := NewClient(c.url(), c.e.Roots()[0], c.e.Fingerprint())
	if err != nil {
		t.Fatal(err)
	}
	return cl
}

// enroll signs a certificate for a new key, as the API does at enrollment.
func (c *testCA) enroll(t *testing.T, lifetime time.Duration) tls.Certificate {
	t.Helper()
	key := newKey(t)
	leaf, chain := c.sign(t, key, lifetime)
	return tls.Certificate{Certificate: [][]byte{leaf.Raw, chain[0].Raw}, PrivateKey: key, Leaf: leaf}
}

// signFor signs a certificate at this CA for the key of cur.
func (c *testCA) signFor(t *testing.T, cur tls.Certificate) *x509.Certificate {
	t.Helper()
	leaf, _ := c.sign(t, cur.PrivateKey.(*ecdsa.PrivateKey), 0)
	return leaf
}

func (c *testCA) sign(t *testing.T, key *ecdsa.PrivateKey, lifetime time.Duration) (*x509.Certificate, []*x509.Certificate) {
	t.Helper()
	der, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{}, key)
	if err != nil {
		t.Fatal(err)
	}
	csr, err := x509.ParseCertificateRequest(der)
	if err != nil {
		t.Fatal(err)
	}
	leaf, chain, err := c.e.Sign(context.Background(), csr, "dev-1", lifetime)
	if err != nil {
		t.Fatal(err)
	}
	return leaf, chain
}

func newKey(t *testing.T) *ecdsa.PrivateKey {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// fakeClock is a settable wall clock.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = t
}

// logBuffer is a concurrency-safe slog text sink.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *logBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func (b *logBuffer) logger() *slog.Logger { return slog.New(slog.NewTextHandler(b, nil)) }
