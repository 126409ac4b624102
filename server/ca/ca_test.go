package ca

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"go.step.sm/crypto/jose"
)

const tenant = "acme"

func newCSR(t *testing.T, key *ecdsa.PrivateKey, cn string) *x509.CertificateRequest {
	t.Helper()
	der, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{Subject: pkix.Name{CommonName: cn}}, key)
	if err != nil {
		t.Fatal(err)
	}
	csr, err := x509.ParseCertificateRequest(der)
	if err != nil {
		t.Fatal(err)
	}
	return csr
}

func newKey(t *testing.T) *ecdsa.PrivateKey {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func open(t *testing.T, dir string, opt ...Option) *Embedded {
	t.Helper()
	e, err := Open(dir, tenant, opt...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := e.Close(); err != nil {
			t.Error(err)
		}
	})
	return e
}

func TestSignDeviceCertificate(t *testing.T) {
	dir := t.TempDir()
	e := open(t, dir)
	key := newKey(t)
	before := time.Now().Truncate(time.Second)
	leaf, chain, err := e.Sign(context.Background(), newCSR(t, key, "dev-1"), "dev-1", 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(chain) != 2 || !chain[0].Equal(e.Intermediate()) || !chain[1].Equal(e.Roots()[0]) {
		t.Fatalf("chain = %v, want intermediate and root", chain)
	}
	roots, inter := x509.NewCertPool(), x509.NewCertPool()
	roots.AddCert(e.Roots()[0])
	inter.AddCert(chain[0])
	if _, err := leaf.Verify(x509.VerifyOptions{Roots: roots, Intermediates: inter, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}); err != nil {
		t.Fatalf("leaf does not chain to the root: %v", err)
	}
	if err := leaf.CheckSignatureFrom(e.Intermediate()); err != nil {
		t.Fatalf("leaf not signed by the intermediate: %v", err)
	}
	// step-ca sets NotAfter = signing time + lifetime and backdates NotBefore.
	if got := leaf.NotAfter.Sub(leaf.NotBefore); got != DefaultLifetime+Backdate {
		t.Errorf("NotAfter-NotBefore = %s, want %s", got, DefaultLifetime+Backdate)
	}
	if d := leaf.NotAfter.Sub(before); d < DefaultLifetime || d > DefaultLifetime+5*time.Second {
		t.Errorf("NotAfter - start = %s, want 24h (+ a few seconds)", d)
	}
	if leaf.Subject.CommonName != "dev-1" {
		t.Errorf("CN = %q", leaf.Subject.CommonName)
	}
	if o := leaf.Subject.Organization; len(o) != 1 || o[0] != tenant {
		t.Errorf("O = %q", o)
	}
	if len(leaf.URIs) != 1 || leaf.URIs[0].String() != "urn:kiwistack:device:acme:dev-1" || len(leaf.DNSNames) != 0 {
		t.Errorf("SANs: URIs %v DNS %v", leaf.URIs, leaf.DNSNames)
	}
	if !leaf.PublicKey.(*ecdsa.PublicKey).Equal(key.Public()) {
		t.Error("leaf is not for the CSR's key")
	}
	if e.Intermediate().MaxPathLen != 0 || !e.Intermediate().MaxPathLenZero || e.Intermediate().Subject.Organization[0] != tenant {
		t.Errorf("intermediate: pathlen %d zero %v O %v", e.Intermediate().MaxPathLen, e.Intermediate().MaxPathLenZero, e.Intermediate().Subject.Organization)
	}
	for _, f := range []string{RootKeyFile, IntermediateKeyFile, ProvisionerKeyFile} {
		st, err := os.Stat(filepath.Join(dir, f))
		if err != nil {
			t.Fatal(err)
		}
		if st.Mode().Perm() != 0o600 {
			t.Errorf("%s mode %v, want 0600", f, st.Mode().Perm())
		}
	}
	sum := sha256Hex(e.Roots()[0].Raw)
	if e.Fingerprint() != sum || len(sum) != 64 {
		t.Errorf("fingerprint %s, want %s", e.Fingerprint(), sum)
	}
}

func sha256Hex(b []byte) string {
	h := crypto.SHA256.New()
	h.Write(b)
	return hex.EncodeToString(h.Sum(nil))
}

func TestSignRefused(t *testing.T) {
	e := open(t, t.TempDir())
	key, other := newKey(t), newKey(t)

	// A CSR whose public key is not the key that signed it.
	forged := newCSR(t, key, "")
	forgedCSR := *forged
	forgedCSR.PublicKey = other.Public()
	raw, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{}, other)
	if err != nil {
		t.Fatal(err)
	}
	otherCSR, _ := x509.ParseCertificateRequest(raw)
	// Splice: other's public key with key's signature over other's info.
	spliced := *otherCSR
	spliced.Signature = forged.Signature

	tests := []struct {
		name     string
		csr      *x509.CertificateRequest
		id       string
		lifetime time.Duration
	}{
		{"signature by another key", &spliced, "dev-1", 0},
		{"public key swapped", &forgedCSR, "dev-1", 0},
		{"lifetime above 24h", newCSR(t, key, ""), "dev-1", 25 * time.Hour},
		{"lifetime below minimum", newCSR(t, key, ""), "dev-1", 10 * time.Second},
		{"negative lifetime", newCSR(t, key, ""), "dev-1", -time.Hour},
		{"CN not the device", newCSR(t, key, "someone-else"), "dev-1", 0},
		{"bad device id", newCSR(t, key, ""), "dev 1/..", 0},
		{"nil csr", nil, "dev-1", 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := e.Sign(context.Background(), tt.csr, tt.id, tt.lifetime)
			if !errors.Is(err, ErrRefused) {
				t.Fatalf("err = %v, want ErrRefused", err)
			}
		})
	}
}

func TestRestartKeepsPKI(t *testing.T) {
	dir := t.TempDir()
	e, err := Open(dir, tenant)
	if err != nil {
		t.Fatal(err)
	}
	fp := e.Fingerprint()
	key := newKey(t)
	leaf, _, err := e.Sign(context.Background(), newCSR(t, key, ""), "dev-1", 0)
	if err != nil {
		t.Fatal(err)
	}
	if err := e.Revoke(context.Background(), leaf.SerialNumber.String(), "lost"); err != nil {
		t.Fatal(err)
	}
	if err := e.Close(); err != nil {
		t.Fatal(err)
	}

	e2 := open(t, dir)
	if e2.Fingerprint() != fp {
		t.Fatalf("fingerprint changed across restart: %s != %s", e2.Fingerprint(), fp)
	}
	leaf2, _, err := e2.Sign(context.Background(), newCSR(t, key, ""), "dev-2", 0)
	if err != nil {
		t.Fatal(err)
	}
	if err := leaf2.CheckSignatureFrom(e2.Intermediate()); err != nil {
		t.Fatal(err)
	}
	if revoked, err := e2.IsRevoked(leaf.SerialNumber.String()); err != nil || !revoked {
		t.Fatalf("revocation lost across restart: %v %v", revoked, err)
	}
	if _, err := Open(t.TempDir()+"/x", ""); err == nil {
		t.Error("empty tenant accepted")
	}
}

func TestOtherTenantStateRefused(t *testing.T) {
	dir := t.TempDir()
	e, err := Open(dir, tenant)
	if err != nil {
		t.Fatal(err)
	}
	if err := e.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := Open(dir, "other"); err == nil || !strings.Contains(err.Error(), "belongs to tenant") {
		t.Fatalf("err = %v, want tenant mismatch", err)
	}
}

// renewServer serves e.Handler on a TLS listener that asks for client
// certificates the way step-ca does.
func renewServer(t *testing.T, e *Embedded) *httptest.Server {
	t.Helper()
	srv := httptest.NewUnstartedServer(e.Handler())
	srv.TLS = &tls.Config{ClientAuth: tls.VerifyClientCertIfGiven, ClientCAs: e.ClientCAs()}
	srv.StartTLS()
	t.Cleanup(srv.Close)
	return srv
}

type signResponse struct {
	CertChainPEM []string `json:"certChain"`
}

func postRenew(t *testing.T, srv *httptest.Server, clientCert *tls.Certificate, bearer string) (int, []*x509.Certificate, string) {
	t.Helper()
	tr := srv.Client().Transport.(*http.Transport).Clone()
	if clientCert != nil {
		tr.TLSClientConfig.Certificates = []tls.Certificate{*clientCert}
	}
	req, err := http.NewRequest(http.MethodPost, srv.URL+"/renew", nil)
	if err != nil {
		t.Fatal(err)
	}
	if bearer != "" {
		req.Header.Set("Authorization", "Bearer "+bearer)
	}
	resp, err := (&http.Client{Transport: tr}).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusCreated {
		return resp.StatusCode, nil, string(body)
	}
	var sr signResponse
	if err := json.Unmarshal(body, &sr); err != nil {
		t.Fatal(err)
	}
	var certs []*x509.Certificate
	for _, p := range sr.CertChainPEM {
		c, err := parseCertPEM([]byte(p))
		if err != nil {
			t.Fatal(err)
		}
		certs = append(certs, c)
	}
	return resp.StatusCode, certs, string(body)
}

func tlsCert(leaf *x509.Certificate, chain []*x509.Certificate, key crypto.Signer) *tls.Certificate {
	c := &tls.Certificate{Certificate: [][]byte{leaf.Raw}, PrivateKey: key, Leaf: leaf}
	for _, x := range chain {
		c.Certificate = append(c.Certificate, x.Raw)
	}
	return c
}

// renewToken builds the token step's clients send to renew a certificate
// that can no longer do mutual TLS: a JWT signed by the certificate's key,
// with the certificate in the x5cInsecure header.
func renewToken(t *testing.T, leaf, intermediate *x509.Certificate, key crypto.Signer, aud string) string {
	t.Helper()
	x5c := []string{base64.StdEncoding.EncodeToString(leaf.Raw), base64.StdEncoding.EncodeToString(intermediate.Raw)}
	so := new(jose.SignerOptions).WithType("JWT").WithHeader(jose.HeaderKey(jose.X5cInsecureKey), x5c)
	s, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.ES256, Key: key}, so)
	if err != nil {
		t.Fatal(err)
	}
	id := make([]byte, 8)
	_, _ = rand.Read(id)
	now := time.Now()
	tok, err := jose.Signed(s).Claims(jose.Claims{
		ID: hex.EncodeToString(id), Issuer: "step-ca-client/1.0", Subject: leaf.Subject.CommonName,
		Audience: jose.Audience{aud}, IssuedAt: jose.NewNumericDate(now), NotBefore: jose.NewNumericDate(now),
		Expiry: jose.NewNumericDate(now.Add(time.Minute)),
	}).CompactSerialize()
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

func TestHandlerRoutes(t *testing.T) {
	e := open(t, t.TempDir())
	srv := renewServer(t, e)
	for _, path := range []string{"/health", "/roots", "/root/" + e.Fingerprint(), "/1.0/roots", "/intermediates"} {
		resp, err := srv.Client().Get(srv.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK && resp.StatusCode != http.StatusCreated { // step-ca answers /roots with 201
			t.Errorf("GET %s = %d %s", path, resp.StatusCode, body)
		}
		if strings.HasPrefix(path, "/root/") && !strings.Contains(string(body), strings.TrimSpace(strings.Split(string(PEM(e.Roots()[0])), "\n")[1])) {
			t.Errorf("GET %s does not return the root", path)
		}
	}
	resp, err := srv.Client().Post(srv.URL+"/renew", "application/json", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusBadRequest {
		t.Errorf("renew without certificate = %d, want 400", resp.StatusCode)
	}
}

func TestRenewMTLSAndRevoke(t *testing.T) {
	var now atomic.Pointer[time.Time]
	clock := func() time.Time {
		if p := now.Load(); p != nil {
			return *p
		}
		return time.Now()
	}
	e := open(t, t.TempDir(), WithClock(clock), WithRenewalGrace(7*24*time.Hour))
	srv := renewServer(t, e)
	key := newKey(t)
	leaf, chain, err := e.Sign(context.Background(), newCSR(t, key, ""), "dev-1", 2*time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	if got := leaf.NotAfter.Sub(leaf.NotBefore); got != 2*time.Minute+Backdate {
		t.Fatalf("lifetime %s", got)
	}
	time.Sleep(1100 * time.Millisecond) // NotAfter has a resolution of one second

	code, certs, body := postRenew(t, srv, tlsCert(leaf, chain, key), "")
	if code != http.StatusCreated {
		t.Fatalf("mTLS renew = %d %s", code, body)
	}
	renewed := certs[0]
	if !renewed.PublicKey.(*ecdsa.PublicKey).Equal(key.Public()) {
		t.Error("renewed certificate has another key")
	}
	if !renewed.NotAfter.After(leaf.NotAfter) {
		t.Errorf("renewed NotAfter %s not after %s", renewed.NotAfter, leaf.NotAfter)
	}
	if renewed.NotAfter.Sub(renewed.NotBefore) != leaf.NotAfter.Sub(leaf.NotBefore) {
		t.Errorf("renewal changed the lifetime")
	}
	if renewed.Subject.CommonName != "dev-1" || renewed.URIs[0].String() != leaf.URIs[0].String() || renewed.SerialNumber.Cmp(leaf.SerialNumber) == 0 {
		t.Errorf("renewed certificate: %v %v %v", renewed.Subject, renewed.URIs, renewed.SerialNumber)
	}

	// Past expiry (by the injected clock), within the grace: allowed, here
	// with the renewal token as an expired certificate cannot do mTLS.
	aud := "https://127.0.0.1/renew"
	past := renewed.NotAfter.Add(3 * 24 * time.Hour)
	now.Store(&past)
	code, certs, body = postRenew(t, srv, nil, renewToken(t, renewed, e.Intermediate(), key, aud))
	if code != http.StatusCreated {
		t.Fatalf("renew within grace = %d %s", code, body)
	}
	renewed2 := certs[0]

	// Past the grace: refused with a reason.
	late := renewed2.NotAfter.Add(8 * 24 * time.Hour)
	now.Store(&late)
	code, _, body = postRenew(t, srv, nil, renewToken(t, renewed2, e.Intermediate(), key, aud))
	if code != http.StatusUnauthorized || !strings.Contains(body, "re-enroll") {
		t.Fatalf("renew past grace = %d %s, want 401 saying re-enroll", code, body)
	}
	now.Store(nil)

	// Revoked: renewal refused for good, over mTLS too.
	if err := e.Revoke(context.Background(), renewed2.SerialNumber.String(), "stolen"); err != nil {
		t.Fatal(err)
	}
	code, _, body = postRenew(t, srv, tlsCert(renewed2, chain, key), "")
	if code != http.StatusUnauthorized || !strings.Contains(body, "has been revoked; re-enroll") {
		t.Fatalf("renew of revoked = %d %s, want 401 saying revoked", code, body)
	}
	code, _, body = postRenew(t, srv, nil, renewToken(t, renewed2, e.Intermediate(), key, aud))
	if code != http.StatusUnauthorized || !strings.Contains(body, "has been revoked") {
		t.Fatalf("token renew of revoked = %d %s, want 401 saying revoked", code, body)
	}
	// step-ca's own check stands behind the handler's: a direct renewal of
	// the revoked certificate is refused too.
	if _, err := e.auth.Renew(renewed2); err == nil {
		t.Fatal("step-ca renewed a revoked certificate")
	}
	if err := e.Revoke(context.Background(), renewed2.SerialNumber.String(), "again"); !errors.Is(err, ErrRefused) {
		t.Errorf("second revoke: %v, want ErrRefused", err)
	}
	if err := e.Revoke(context.Background(), "12ab", ""); !errors.Is(err, ErrRefused) {
		t.Errorf("hex serial: %v, want ErrRefused", err)
	}
	// The older, unrevoked certificate still renews: revocation is per serial.
	code, _, body = postRenew(t, srv, tlsCert(renewed, chain, key), "")
	if code != http.StatusCreated {
		t.Errorf("renew of unrevoked sibling = %d %s", code, body)
	}
}

// TestRenewAfterRealExpiry lets a certificate expire in real time (a
// 2-second lifetime) and renews it with the renewal token: no injected clock.
func TestRenewAfterRealExpiry(t *testing.T) {
	e := open(t, t.TempDir(), WithMinLifetime(time.Second), WithRenewalGrace(time.Hour))
	srv := renewServer(t, e)
	key := newKey(t)
	leaf, chain, err := e.Sign(context.Background(), newCSR(t, key, ""), "dev-1", 2*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(time.Until(leaf.NotAfter) + 1100*time.Millisecond)

	// The TLS handshake itself refuses an expired client certificate.
	tr := srv.Client().Transport.(*http.Transport).Clone()
	tr.TLSClientConfig.Certificates = []tls.Certificate{*tlsCert(leaf, chain, key)}
	if resp, err := (&http.Client{Transport: tr}).Post(srv.URL+"/renew", "", nil); err == nil {
		resp.Body.Close()
		if resp.StatusCode == http.StatusCreated {
			t.Fatal("expired certificate renewed over mTLS")
		}
	}
	code, certs, body := postRenew(t, srv, nil, renewToken(t, leaf, e.Intermediate(), key, "https://localhost/1.0/renew"))
	if code != http.StatusCreated {
		t.Fatalf("renew after expiry = %d %s", code, body)
	}
	if !certs[0].NotAfter.After(time.Now()) {
		t.Errorf("renewed certificate already expired: %s", certs[0].NotAfter)
	}
	// A token for someone else's certificate, signed by our key, is refused.
	other, _, err := e.Sign(context.Background(), newCSR(t, newKey(t), ""), "dev-2", 0)
	if err != nil {
		t.Fatal(err)
	}
	if code, _, _ := postRenew(t, srv, nil, renewToken(t, other, e.Intermediate(), key, "https://localhost/renew")); code == http.StatusCreated {
		t.Error("renewal token signed by the wrong key accepted")
	}
}

func TestPEMRoundTrip(t *testing.T) {
	e := open(t, t.TempDir())
	b, _ := pem.Decode(PEM(e.Roots()[0]))
	if b == nil || b.Type != "CERTIFICATE" {
		t.Fatal("bad PEM")
	}
}
