package ca

import (
	"context"
	"crypto/rand"
	"crypto/x509"
	"errors"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestSignAdminCertificate(t *testing.T) {
	e := open(t, t.TempDir())
	key := newKey(t)
	leaf, chain, err := e.SignAdmin(context.Background(), AdminRequest{
		CSR: newCSR(t, key, ""), Serial: 12345679, Admin: "John Doe", Role: "sysadmin",
	})
	if err != nil {
		t.Fatal(err)
	}
	if leaf.Subject.CommonName != "John Doe" || !slices.Equal(leaf.Subject.OrganizationalUnit, []string{"sysadmin"}) ||
		!slices.Equal(leaf.Subject.Organization, []string{tenant}) {
		t.Errorf("subject %s, want CN=John Doe, OU=sysadmin, O=%s", leaf.Subject, tenant)
	}
	if len(leaf.URIs) != 1 || leaf.URIs[0].String() != "urn:kiwistack:admin:acme:12345679" || len(leaf.DNSNames) != 0 {
		t.Errorf("SANs: URIs %v DNS %v, want only the YubiKey URI", leaf.URIs, leaf.DNSNames)
	}
	if !key.PublicKey.Equal(leaf.PublicKey) {
		t.Error("certificate is for another key")
	}
	if got := leaf.NotAfter.Sub(leaf.NotBefore); got != AdminDefaultLifetime+Backdate {
		t.Errorf("validity %s, want %s", got, AdminDefaultLifetime+Backdate)
	}
	if !slices.Contains(leaf.ExtKeyUsage, x509.ExtKeyUsageClientAuth) || leaf.KeyUsage != x509.KeyUsageDigitalSignature {
		t.Errorf("key usage %v / %v", leaf.KeyUsage, leaf.ExtKeyUsage)
	}
	roots := x509.NewCertPool()
	roots.AddCert(chain[len(chain)-1])
	inter := x509.NewCertPool()
	inter.AddCert(e.Intermediate())
	if _, err := leaf.Verify(x509.VerifyOptions{Roots: roots, Intermediates: inter, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}); err != nil {
		t.Errorf("admin certificate does not chain to the tenant root: %v", err)
	}

	// A shorter lifetime is honoured.
	leaf, _, err = e.SignAdmin(context.Background(), AdminRequest{CSR: newCSR(t, key, ""), Serial: 1, Admin: "A", Role: "founder", Lifetime: 48 * time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	if got := leaf.NotAfter.Sub(leaf.NotBefore); got != 48*time.Hour+Backdate {
		t.Errorf("validity %s, want 48h+backdate", got)
	}
}

func TestSignAdminRefused(t *testing.T) {
	e := open(t, t.TempDir())
	key := newKey(t)
	bad := newCSR(t, key, "")
	bad.Signature = slices.Clone(bad.Signature)
	bad.Signature[len(bad.Signature)-3] ^= 1
	for name, req := range map[string]AdminRequest{
		"no csr":            {Serial: 1, Admin: "A", Role: "sysadmin"},
		"bad csr signature": {CSR: bad, Serial: 1, Admin: "A", Role: "sysadmin"},
		"no serial":         {CSR: newCSR(t, key, ""), Admin: "A", Role: "sysadmin"},
		"no role":           {CSR: newCSR(t, key, ""), Serial: 1, Admin: "A"},
		"too long":          {CSR: newCSR(t, key, ""), Serial: 1, Admin: "A", Role: "sysadmin", Lifetime: 2 * AdminMaxLifetime},
		"too short":         {CSR: newCSR(t, key, ""), Serial: 1, Admin: "A", Role: "sysadmin", Lifetime: time.Minute},
		"csr names another": {CSR: newCSR(t, key, "Eve"), Serial: 1, Admin: "A", Role: "sysadmin"},
	} {
		t.Run(name, func(t *testing.T) {
			if _, _, err := e.SignAdmin(context.Background(), req); !errors.Is(err, ErrRefused) {
				t.Fatalf("err = %v, want ErrRefused", err)
			}
		})
	}
}

func TestSignBindsWireGuardKey(t *testing.T) {
	e := open(t, t.TempDir())
	key := newKey(t)
	const id = "d-0123456789abcdef0123456789abcdef"
	wg := "urn:kiwistack:wg:" + strings.Repeat("A", 43)
	u, err := url.Parse(wg)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{URIs: []*url.URL{DeviceURI(tenant, id), u}}, key)
	if err != nil {
		t.Fatal(err)
	}
	csr, err := x509.ParseCertificateRequest(der)
	if err != nil {
		t.Fatal(err)
	}
	leaf, _, err := e.Sign(context.Background(), csr, id, 0)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, u := range leaf.URIs {
		got = append(got, u.String())
	}
	if want := []string{DeviceURI(tenant, id).String(), wg}; !slices.Equal(got, want) {
		t.Errorf("URIs %v, want %v", got, want)
	}
	// A CSR naming another device is refused by step-ca.
	der, _ = x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{URIs: []*url.URL{DeviceURI(tenant, "d-other"), u}}, key)
	csr, _ = x509.ParseCertificateRequest(der)
	if _, _, err := e.Sign(context.Background(), csr, id, 0); !errors.Is(err, ErrRefused) {
		t.Errorf("CSR naming another device: %v, want ErrRefused", err)
	}
}
