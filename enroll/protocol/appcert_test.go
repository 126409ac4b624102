package protocol

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"errors"
	"net/url"
	"strings"
	"testing"
)

func appCSRPEM(t testing.TB) string {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{}, k)
	if err != nil {
		t.Fatal(err)
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: der}))
}

func TestAppCertificateRequestValidate(t *testing.T) {
	csr := appCSRPEM(t)
	for _, tc := range []struct {
		name string
		req  AppCertificateRequest
		want string // "" is valid
	}{
		{"valid", AppCertificateRequest{CSR: csr, User: "alice"}, ""},
		{"valid lifetime", AppCertificateRequest{CSR: csr, User: "_svc.x-1", LifetimeSeconds: 86400}, ""},
		{"no user", AppCertificateRequest{CSR: csr}, "user must be"},
		{"upper case", AppCertificateRequest{CSR: csr, User: "Alice"}, "lowercase"},
		{"digit first", AppCertificateRequest{CSR: csr, User: "1alice"}, "lowercase"},
		{"path", AppCertificateRequest{CSR: csr, User: "../etc"}, "lowercase"},
		{"too long", AppCertificateRequest{CSR: csr, User: strings.Repeat("a", 33)}, "user must be"},
		{"negative lifetime", AppCertificateRequest{CSR: csr, User: "alice", LifetimeSeconds: -1}, "lifetime_seconds"},
		{"long lifetime", AppCertificateRequest{CSR: csr, User: "alice", LifetimeSeconds: 86401}, "lifetime_seconds"},
		{"no csr", AppCertificateRequest{User: "alice"}, "csr must be"},
		{"certificate", AppCertificateRequest{CSR: strings.ReplaceAll(csr, "CERTIFICATE REQUEST", "CERTIFICATE"), User: "alice"}, "csr must be"},
		{"two blocks", AppCertificateRequest{CSR: csr + csr, User: "alice"}, "data after"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.req.Validate()
			if tc.want == "" {
				if err != nil {
					t.Fatal(err)
				}
				if _, err := tc.req.ParseCSR(); err != nil {
					t.Fatal(err)
				}
				return
			}
			if err == nil || !errors.Is(err, ErrMalformed) || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("err %v, want ErrMalformed with %q", err, tc.want)
			}
		})
	}
}

func TestIsAppCertificate(t *testing.T) {
	device := &x509.Certificate{URIs: []*url.URL{DeviceURI("acme", "d1")}}
	byURI := &x509.Certificate{URIs: []*url.URL{AppURI("acme", "d1")}}
	byOU := &x509.Certificate{Subject: pkix.Name{OrganizationalUnit: []string{AppCertificateOU}}, URIs: []*url.URL{DeviceURI("acme", "d1")}}
	if IsAppCertificate(device) || !IsAppCertificate(byURI) || !IsAppCertificate(byOU) {
		t.Error("IsAppCertificate misclassifies")
	}
	if AppURI("acme", "d1").String() != "urn:kiwistack:app:acme:d1" || AppCommonName("alice", "d1") != "alice@d1" {
		t.Error("names changed")
	}
}

// FuzzAppCertificateRequest: decoding and validating arbitrary bytes never
// panics, and what validates has a CSR that parses or a clear error.
func FuzzAppCertificateRequest(f *testing.F) {
	b, _ := json.Marshal(AppCertificateRequest{CSR: appCSRPEM(f), User: "alice", LifetimeSeconds: 60})
	f.Add(b)
	f.Add([]byte(`{"csr":"","user":"a"}`))
	f.Add([]byte(`{"csr":"-----BEGIN CERTIFICATE REQUEST-----\nAA==\n-----END CERTIFICATE REQUEST-----\n","user":"a","lifetime_seconds":1e3}`))
	f.Add([]byte(`{"user":"a","user":"b"}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		var r AppCertificateRequest
		if err := DecodeJSON(strings.NewReader(string(body)), MaxRequestBytes, &r); err != nil {
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("decode error %v does not wrap ErrMalformed", err)
			}
			return
		}
		if err := r.Validate(); err != nil {
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("validate error %v does not wrap ErrMalformed", err)
			}
			return
		}
		if CheckUser(r.User) != nil {
			t.Fatalf("validated a bad user %q", r.User)
		}
		if _, err := r.ParseCSR(); err != nil && !errors.Is(err, ErrMalformed) {
			t.Fatalf("parse error %v does not wrap ErrMalformed", err)
		}
	})
}
