package ca

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"errors"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"go.step.sm/crypto/jose"
)

// remoteEnv is the embedded step-ca's handler on a TLS server whose
// certificate chains to the tenant root, as a standalone step-ca serves.
type remoteEnv struct {
	e   *Embedded
	pki *PKI
	srv *httptest.Server
	// intercept, when set, answers instead of step-ca.
	intercept atomic.Pointer[http.HandlerFunc]
}

func newRemoteEnv(t *testing.T) *remoteEnv {
	t.Helper()
	dir := t.TempDir()
	env := &remoteEnv{e: open(t, dir, WithDNSNames("127.0.0.1", "localhost"))}
	pki, err := LoadOrCreatePKI(dir, tenant, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	env.pki = pki
	h := env.e.Handler()
	env.srv = httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if f := env.intercept.Load(); f != nil {
			(*f)(w, r)
			return
		}
		h.ServeHTTP(w, r)
	}))
	env.srv.TLS = &tls.Config{Certificates: []tls.Certificate{serverCert(t, pki)}}
	env.srv.StartTLS()
	t.Cleanup(env.srv.Close)
	return env
}

// serverCert issues a TLS server certificate for 127.0.0.1 from the
// tenant intermediate.
func serverCert(t *testing.T, pki *PKI) tls.Certificate {
	t.Helper()
	key := newKey(t)
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(time.Now().UnixNano()),
		Subject:      pkix.Name{CommonName: "127.0.0.1"},
		NotBefore:    time.Now().Add(-time.Minute), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, DNSNames: []string{"localhost"},
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, pki.Intermediate, &key.PublicKey, pki.IntermediateKey)
	if err != nil {
		t.Fatal(err)
	}
	return tls.Certificate{Certificate: [][]byte{der, pki.Intermediate.Raw}, PrivateKey: key}
}

func (env *remoteEnv) config() RemoteConfig {
	return RemoteConfig{
		URL: env.srv.URL, RootFingerprint: env.pki.Fingerprint(), Tenant: tenant,
		Devices: RemoteProvisioner{Name: ProvisionerName, Key: env.pki.ProvisionerKey},
		Admins:  RemoteProvisioner{Name: AdminProvisionerName, Key: env.pki.AdminProvisionerKey},
		Timeout: 10 * time.Second,
	}
}

func (env *remoteEnv) dial(t *testing.T) *Remote {
	t.Helper()
	r, err := DialRemote(context.Background(), env.config())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = r.Close() })
	return r
}

func TestRemoteSignRevoke(t *testing.T) {
	env := newRemoteEnv(t)
	r := env.dial(t)
	if r.Fingerprint() != env.pki.Fingerprint() || !r.Intermediate().Equal(env.pki.Intermediate) {
		t.Fatal("remote did not pin the root or fetch the intermediate")
	}
	if err := r.Health(context.Background()); err != nil {
		t.Fatal(err)
	}
	key := newKey(t)
	leaf, chain, err := r.Sign(context.Background(), newCSR(t, key, ""), "laptop-1", 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(chain) != 2 || !chain[0].Equal(env.pki.Intermediate) || !chain[1].Equal(env.pki.Root) {
		t.Fatalf("chain %d certificates, want intermediate then root", len(chain))
	}
	if leaf.Subject.CommonName != "laptop-1" || len(leaf.URIs) != 1 || leaf.URIs[0].String() != DeviceURI(tenant, "laptop-1").String() {
		t.Errorf("subject %s URIs %v, want the device id and URI", leaf.Subject, leaf.URIs)
	}
	if got := leaf.NotAfter.Sub(leaf.NotBefore); got != DefaultLifetime+Backdate {
		t.Errorf("validity %s, want 24h plus backdate", got)
	}
	if !key.PublicKey.Equal(leaf.PublicKey) {
		t.Error("certificate is for another key")
	}

	admin, _, err := r.SignAdmin(context.Background(), AdminRequest{CSR: newCSR(t, newKey(t), ""), Serial: 4242, Admin: "Jane", Role: "founder"})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(admin.Subject.OrganizationalUnit, []string{"founder"}) || admin.URIs[0].String() != AdminURI(tenant, 4242).String() {
		t.Errorf("admin subject %s URIs %v", admin.Subject, admin.URIs)
	}

	serial := leaf.SerialNumber.String()
	if err := r.Revoke(context.Background(), serial, "lost"); err != nil {
		t.Fatal(err)
	}
	if ok, err := env.e.IsRevoked(serial); err != nil || !ok {
		t.Fatalf("IsRevoked = %v, %v after Revoke", ok, err)
	}
	err = r.Revoke(context.Background(), serial, "again")
	if !errors.Is(err, ErrRefused) || !strings.Contains(err.Error(), "step-ca refused: ") {
		t.Errorf("second revoke: %v, want a step-ca refusal", err)
	}
}

func TestRemoteRefusals(t *testing.T) {
	env := newRemoteEnv(t)
	r := env.dial(t)
	ctx := context.Background()
	// step-ca's own refusal: a CSR naming another device.
	_, _, err := r.Sign(ctx, newCSR(t, newKey(t), "other"), "laptop-1", 0)
	if !errors.Is(err, ErrRefused) || !strings.Contains(err.Error(), "step-ca refused: ") || !strings.Contains(err.Error(), "HTTP 4") {
		t.Errorf("foreign CN: %v, want step-ca's 4xx surfaced as ErrRefused", err)
	}

	answer := func(status int, body []byte) {
		f := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			w.WriteHeader(status)
			_, _ = w.Write(body)
		})
		env.intercept.Store(&f)
	}
	t.Cleanup(func() { env.intercept.Store(nil) })
	for _, tc := range []struct {
		name   string
		status int
		body   []byte
		want   string
	}{
		{"garbage", http.StatusCreated, []byte("<html>not json"), "decoding response"},
		{"oversized", http.StatusCreated, bytes.Repeat([]byte("a"), maxRemoteResponse+10), "larger than"},
		{"no certificate", http.StatusCreated, []byte(`{}`), "without a certificate"},
		{"foreign certificate", http.StatusCreated, foreignSignResponse(t), "does not verify"},
		{"server error", http.StatusInternalServerError, []byte(`{"status":500,"message":"database on fire"}`), "HTTP 500: database on fire"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			answer(tc.status, tc.body)
			_, _, err := r.Sign(ctx, newCSR(t, newKey(t), ""), "laptop-2", 0)
			if err == nil || !strings.Contains(err.Error(), tc.want) || errors.Is(err, ErrRefused) {
				t.Errorf("err %v, want one containing %q and not ErrRefused", err, tc.want)
			}
		})
	}
}

// foreignSignResponse is a sign response with a self-signed certificate.
func foreignSignResponse(t *testing.T) []byte {
	t.Helper()
	key := newKey(t)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(7), NotBefore: time.Now(), NotAfter: time.Now().Add(time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	c, _ := x509.ParseCertificate(der)
	b, _ := json.Marshal(map[string]any{"crt": string(PEM(c)), "ca": string(PEM(c)), "certChain": []string{string(PEM(c))}})
	return b
}

func TestRemoteBootstrapRefused(t *testing.T) {
	env := newRemoteEnv(t)
	other, err := LoadOrCreatePKI(t.TempDir(), tenant, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		edit func(*RemoteConfig)
		want string
	}{
		{"wrong fingerprint", func(c *RemoteConfig) { c.RootFingerprint = other.Fingerprint() }, "step-ca refused"},
		{"short fingerprint", func(c *RemoteConfig) { c.RootFingerprint = "abcd" }, "64 hex digits"},
		{"http url", func(c *RemoteConfig) { c.URL = strings.Replace(c.URL, "https", "http", 1) }, "want https"},
		{"no device key", func(c *RemoteConfig) { c.Devices.Key = nil }, "device provisioner"},
		{"public key", func(c *RemoteConfig) { pub := c.Devices.Key.Public(); c.Devices.Key = &pub }, "private JWK"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := env.config()
			tc.edit(&cfg)
			_, err := DialRemote(context.Background(), cfg)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("err %v, want one containing %q", err, tc.want)
			}
		})
	}

	// A server that answers the fingerprint's path with another root.
	f := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		_ = json.NewEncoder(w).Encode(map[string]string{"ca": string(PEM(other.Root))})
	})
	env.intercept.Store(&f)
	_, err = DialRemote(context.Background(), env.config())
	if !errors.Is(err, ErrFingerprint) {
		t.Errorf("substituted root: %v, want ErrFingerprint", err)
	}
}

func writeFile(t *testing.T, path string, data []byte, mode os.FileMode) string {
	t.Helper()
	if err := os.WriteFile(path, data, mode); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(path, mode); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestLoadProvisionerKey(t *testing.T) {
	dir := t.TempDir()
	ek, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	key := &jose.JSONWebKey{Key: ek, Algorithm: "ES256", Use: "sig"}
	if key.KeyID, err = jose.Thumbprint(key); err != nil {
		t.Fatal(err)
	}
	plain, err := json.Marshal(key)
	if err != nil {
		t.Fatal(err)
	}
	jwe, err := jose.EncryptJWK(key, []byte("correct horse"))
	if err != nil {
		t.Fatal(err)
	}
	encrypted := []byte(jwe.FullSerialize())
	plainFile := writeFile(t, filepath.Join(dir, "plain.json"), plain, 0o600)
	encFile := writeFile(t, filepath.Join(dir, "enc.json"), encrypted, 0o400)
	pwFile := writeFile(t, filepath.Join(dir, "pw"), []byte("correct horse\n"), 0o600)
	badPW := writeFile(t, filepath.Join(dir, "badpw"), []byte("wrong"), 0o600)
	openPlain := writeFile(t, filepath.Join(dir, "open.json"), plain, 0o644)
	openPW := writeFile(t, filepath.Join(dir, "openpw"), []byte("correct horse"), 0o640)
	noKID := writeFile(t, filepath.Join(dir, "nokid.json"), bytes.Replace(plain, []byte(key.KeyID), nil, 1), 0o600)

	for _, tc := range []struct {
		name, key, pw string
		want          string // "" means success
		unixOnly      bool
	}{
		{"plain", plainFile, "", "", false},
		{"encrypted", encFile, pwFile, "", false},
		{"encrypted without password", encFile, "", "set its password file", false},
		{"wrong password", encFile, badPW, "invalid password", false},
		{"password for plain key", plainFile, pwFile, "not encrypted", false},
		{"group-readable key", openPlain, "", "chmod 600", true},
		{"group-readable password", encFile, openPW, "chmod 600", true},
		{"missing", filepath.Join(dir, "nope"), "", "no such file", false},
		{"no kid", noKID, "", "no kid", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.unixOnly && runtime.GOOS == "windows" {
				t.Skip("file modes do not describe access on Windows")
			}
			got, err := LoadProvisionerKey(tc.key, tc.pw)
			if tc.want == "" {
				if err != nil {
					t.Fatal(err)
				}
				if got.KeyID != key.KeyID || got.IsPublic() || !ek.PublicKey.Equal(got.Public().Key) {
					t.Error("loaded another key")
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("err %v, want one containing %q", err, tc.want)
			}
		})
	}
}
