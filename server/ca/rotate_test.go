package ca

import (
	"context"
	"crypto"
	"crypto/x509"
	"encoding/pem"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestRotateIntermediate: two tenants under one MSP root; tenant acme's
// intermediate is rotated: new certificates come from the new one, a
// certificate of the old one is no longer renewed, the old key is gone,
// a restart keeps the new intermediate, and tenant beta is untouched.
func TestRotateIntermediate(t *testing.T) {
	msp, err := LoadOrCreateMSP(filepath.Join(t.TempDir(), "msp"), time.Now())
	if err != nil {
		t.Fatal(err)
	}
	dirA, dirB := t.TempDir(), t.TempDir()
	a := open(t, dirA, WithMSP(msp))
	eb, err := Open(dirB, "beta", WithMSP(msp))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = eb.Close() })
	if !a.Roots()[0].Equal(msp.Root) || !eb.Roots()[0].Equal(msp.Root) || a.Intermediate().Equal(eb.Intermediate()) {
		t.Fatal("tenants under one MSP share the root and not the intermediate")
	}
	if _, err := os.Stat(filepath.Join(dirA, RootKeyFile)); err == nil {
		t.Error("the MSP root key was copied into a tenant's state directory")
	}
	srvA := renewServer(t, a)
	key := newKey(t)
	oldLeaf, oldChain, err := a.Sign(context.Background(), newCSR(t, key, ""), "dev-1", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	old := a.Intermediate()

	csr, err := RequestIntermediate(dirA, tenant)
	if err != nil {
		t.Fatal(err)
	}
	if again, err := RequestIntermediate(dirA, tenant); err != nil || !sameCSRKey(t, again, csr) {
		t.Fatalf("a second request does not reuse the pending key: %v", err)
	}
	wrongTenant, err := msp.SignIntermediate(csr, "beta", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	next, err := msp.SignIntermediate(csr, tenant, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	otherMSP, _ := LoadOrCreateMSP(t.TempDir(), time.Now())
	foreign, _ := otherMSP.SignIntermediate(csr, tenant, time.Now())
	for name, c := range map[string]*x509.Certificate{"current": old, "other tenant": wrongTenant, "other root": foreign, "nil": nil} {
		if err := a.Rotate(c); err == nil {
			t.Errorf("rotation to the %s intermediate accepted", name)
		}
	}
	if !a.Intermediate().Equal(old) {
		t.Fatal("a refused rotation changed the intermediate")
	}

	if err := a.CheckRotation(next); err != nil {
		t.Fatal(err)
	}
	if err := a.Rotate(next); err != nil {
		t.Fatal(err)
	}
	if !a.Intermediate().Equal(next) {
		t.Fatal("intermediate not switched")
	}
	leaf, chain, err := a.Sign(context.Background(), newCSR(t, newKey(t), ""), "dev-2", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if leaf.CheckSignatureFrom(next) != nil || !chain[0].Equal(next) {
		t.Error("a certificate after the rotation is not from the new intermediate")
	}
	code, _, body := postRenew(t, srvA, tlsCert(oldLeaf, oldChain, key), "")
	if code != http.StatusUnauthorized || !strings.Contains(body, "current intermediate") {
		t.Errorf("renewal of an old-intermediate certificate: %d %s", code, body)
	}
	retired, err := a.Retired()
	if err != nil || len(retired) != 1 || !retired[0].Equal(old) {
		t.Errorf("retired %v %v", retired, err)
	}
	if _, err := os.Stat(filepath.Join(dirA, PendingIntermediateKeyFile)); err == nil {
		t.Error("pending key left behind")
	}
	// Tenant beta still signs with its own, unchanged intermediate.
	bl, _, err := eb.Sign(context.Background(), newCSR(t, newKey(t), ""), "dev-b", time.Hour)
	if err != nil || bl.CheckSignatureFrom(eb.Intermediate()) != nil {
		t.Errorf("beta after acme's rotation: %v", err)
	}
	// A restart loads the new intermediate.
	p, err := LoadOrCreatePKIUnder(dirA, tenant, msp, time.Now())
	if err != nil || !p.Intermediate.Equal(next) || !p.IntermediateKey.Public().(interface{ Equal(crypto.PublicKey) bool }).Equal(next.PublicKey) {
		t.Errorf("after restart: %v", err)
	}
}

// TestRotationCrashRecovery: a crash after the new certificate was written
// and before the key moved is finished by the next load.
func TestRotationCrashRecovery(t *testing.T) {
	msp, err := LoadOrCreateMSP(t.TempDir(), time.Now())
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if _, err := LoadOrCreatePKIUnder(dir, tenant, msp, time.Now()); err != nil {
		t.Fatal(err)
	}
	csr, err := RequestIntermediate(dir, tenant)
	if err != nil {
		t.Fatal(err)
	}
	// Requested, not applied: a load keeps the current intermediate.
	before, err := LoadOrCreatePKIUnder(dir, tenant, msp, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	next, err := msp.SignIntermediate(csr, tenant, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, IntermediateCertFile), PEM(next), 0o644); err != nil {
		t.Fatal(err)
	}
	p, err := LoadOrCreatePKIUnder(dir, tenant, msp, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if !p.Intermediate.Equal(next) || p.Intermediate.Equal(before.Intermediate) {
		t.Error("interrupted rotation not completed")
	}
}

// TestSignIntermediateRejects: the MSP signs only well-formed P-256
// requests for a tenant slug.
func TestSignIntermediateRejects(t *testing.T) {
	msp, err := LoadOrCreateMSP(t.TempDir(), time.Now())
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if _, err := LoadOrCreatePKIUnder(dir, tenant, msp, time.Now()); err != nil {
		t.Fatal(err)
	}
	csr, _ := RequestIntermediate(dir, tenant)
	for name, tc := range map[string]struct {
		csr    []byte
		tenant string
		want   string
	}{
		"garbage":       {[]byte("not pem"), tenant, "CERTIFICATE REQUEST"},
		"trailing":      {append(append([]byte{}, csr...), csr...), tenant, "CERTIFICATE REQUEST"},
		"bad tenant":    {csr, "Acme Corp", "slug"},
		"tampered":      {tamper(csr), tenant, "request"},
		"a certificate": {PEM(msp.Root), tenant, "CERTIFICATE REQUEST"},
	} {
		if _, err := msp.SignIntermediate(tc.csr, tc.tenant, time.Now()); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want an error about %q", name, err, tc.want)
		}
	}
}

// sameCSRKey reports whether two PEM requests are for the same key.
func sameCSRKey(t *testing.T, a, b []byte) bool {
	t.Helper()
	parse := func(p []byte) *x509.CertificateRequest {
		block, _ := pem.Decode(p)
		c, err := x509.ParseCertificateRequest(block.Bytes)
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	return parse(a).PublicKey.(interface{ Equal(crypto.PublicKey) bool }).Equal(parse(b).PublicKey)
}

// tamper flips a byte inside the base64 body of a PEM block.
func tamper(p []byte) []byte {
	out := append([]byte{}, p...)
	i := len(out) / 2
	if out[i] == 'A' {
		out[i] = 'B'
	} else {
		out[i] = 'A'
	}
	return out
}
