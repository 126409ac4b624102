package ca

import (
	"context"
	"crypto/x509"
	"errors"
	"net/http"
	"slices"
	"testing"
	"time"

	"github.com/kiwistack/endpoint/enroll/protocol"
)

// checkApp checks an app certificate's names, lifetime and chain.
func checkApp(t *testing.T, leaf *x509.Certificate, chain []*x509.Certificate, pki *PKI, lifetime time.Duration) {
	t.Helper()
	if leaf.Subject.CommonName != "alice@laptop-1" || !slices.Equal(leaf.Subject.OrganizationalUnit, []string{protocol.AppCertificateOU}) ||
		!slices.Equal(leaf.Subject.Organization, []string{tenant}) {
		t.Errorf("subject %s", leaf.Subject)
	}
	if len(leaf.URIs) != 1 || leaf.URIs[0].String() != protocol.AppURI(tenant, "laptop-1").String() {
		t.Errorf("URIs %v, want only the app URI", leaf.URIs)
	}
	if !slices.Equal(leaf.ExtKeyUsage, []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}) {
		t.Errorf("EKU %v", leaf.ExtKeyUsage)
	}
	if got := leaf.NotAfter.Sub(leaf.NotBefore); got != lifetime+Backdate {
		t.Errorf("validity %s, want %s plus backdate", got, lifetime)
	}
	if len(chain) != 2 || !chain[0].Equal(pki.Intermediate) || !chain[1].Equal(pki.Root) {
		t.Errorf("chain of %d, want intermediate and root", len(chain))
	}
	if leaf.Issuer.CommonName != protocol.IntermediateCommonName(tenant) {
		t.Errorf("issuer CN %q, want %q", leaf.Issuer.CommonName, protocol.IntermediateCommonName(tenant))
	}
}

func TestSignApp(t *testing.T) {
	dir := t.TempDir()
	e := open(t, dir)
	pki, err := LoadOrCreatePKI(dir, tenant, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	key := newKey(t)
	leaf, chain, err := e.SignApp(context.Background(), AppRequest{CSR: newCSR(t, key, ""), DeviceID: "laptop-1", User: "alice", Lifetime: 2 * time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	checkApp(t, leaf, chain, pki, 2*time.Hour)

	// step-ca never renews an app certificate: the API checks the device
	// before each new one.
	srv := renewServer(t, e)
	if code, _, body := postRenew(t, srv, tlsCert(leaf, chain[:1], key), ""); code == http.StatusCreated || code < 400 {
		t.Errorf("renewing an app certificate: %d %s, want a refusal", code, body)
	}

	for _, tc := range []struct {
		name string
		req  AppRequest
	}{
		{"no csr", AppRequest{DeviceID: "laptop-1", User: "alice", Lifetime: time.Hour}},
		{"bad device", AppRequest{CSR: newCSR(t, key, ""), DeviceID: "a:b", User: "alice", Lifetime: time.Hour}},
		{"bad user", AppRequest{CSR: newCSR(t, key, ""), DeviceID: "laptop-1", User: "Alice Smith", Lifetime: time.Hour}},
		{"too long", AppRequest{CSR: newCSR(t, key, ""), DeviceID: "laptop-1", User: "alice", Lifetime: 25 * time.Hour}},
		{"zero", AppRequest{CSR: newCSR(t, key, ""), DeviceID: "laptop-1", User: "alice"}},
		{"too short", AppRequest{CSR: newCSR(t, key, ""), DeviceID: "laptop-1", User: "alice", Lifetime: time.Second}},
		{"csr names", AppRequest{CSR: newCSR(t, key, "laptop-1"), DeviceID: "laptop-1", User: "alice", Lifetime: time.Hour}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, _, err := e.SignApp(context.Background(), tc.req); !errors.Is(err, ErrRefused) {
				t.Errorf("err %v, want ErrRefused", err)
			}
		})
	}
}

func TestRemoteSignApp(t *testing.T) {
	env := newRemoteEnv(t)
	r := env.dial(t)
	leaf, chain, err := r.SignApp(context.Background(), AppRequest{CSR: newCSR(t, newKey(t), ""), DeviceID: "laptop-1", User: "alice", Lifetime: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	checkApp(t, leaf, chain, env.pki, time.Hour)
}
