package enroll

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"math/big"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/kiwistack/endpoint/enroll/protocol"
	"github.com/kiwistack/endpoint/enroll/yubikey"
)

// refreshPKI is a software tenant PKI: a root, an intermediate for
// acme-corp, and what the API answers to a reissue of slot key.
type refreshPKI struct {
	root, inter *x509.Certificate
	interKey    *ecdsa.PrivateKey
	slotKey     *ecdsa.PrivateKey
	csr         *x509.CertificateRequest
}

func mustKey(t *testing.T) *ecdsa.PrivateKey {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func mustCert(t *testing.T, tmpl, parent *x509.Certificate, pub any, signer *ecdsa.PrivateKey) *x509.Certificate {
	t.Helper()
	tmpl.SerialNumber = big.NewInt(time.Now().UnixNano())
	if tmpl.NotBefore.IsZero() {
		tmpl.NotBefore, tmpl.NotAfter = time.Now().Add(-time.Hour), time.Now().Add(24*time.Hour)
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, pub, signer)
	if err != nil {
		t.Fatal(err)
	}
	c, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func newRefreshPKI(t *testing.T) *refreshPKI {
	t.Helper()
	p := &refreshPKI{interKey: mustKey(t), slotKey: mustKey(t)}
	rootKey := mustKey(t)
	ca := func(cn, o string) *x509.Certificate {
		return &x509.Certificate{Subject: pkix.Name{CommonName: cn, Organization: []string{o}}, IsCA: true,
			BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}
	}
	rootTmpl := ca("KiwiStack MSP Root CA", "KiwiStack MSP")
	p.root = mustCert(t, rootTmpl, rootTmpl, &rootKey.PublicKey, rootKey)
	p.inter = mustCert(t, ca("acme-corp Intermediate CA", "acme-corp"), p.root, &p.interKey.PublicKey, rootKey)
	der, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{}, p.slotKey)
	if err != nil {
		t.Fatal(err)
	}
	if p.csr, err = x509.ParseCertificateRequest(der); err != nil {
		t.Fatal(err)
	}
	return p
}

// leaf is an admin certificate as the tenant CA issues it.
type leaf struct {
	cn, ou, o string
	key       *ecdsa.PrivateKey
	uri       string
	notAfter  time.Time
}

func (p *refreshPKI) answer(t *testing.T, l leaf) *protocol.AdminCertificateResponse {
	t.Helper()
	u, err := url.Parse(l.uri)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		Subject: pkix.Name{CommonName: l.cn, OrganizationalUnit: []string{l.ou}, Organization: []string{l.o}},
		URIs:    []*url.URL{u}, KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
		NotBefore: time.Now().Add(-time.Minute), NotAfter: l.notAfter,
	}
	c := mustCert(t, tmpl, p.inter, &l.key.PublicKey, p.interKey)
	sum := sha256.Sum256(c.RawSubjectPublicKeyInfo)
	return &protocol.AdminCertificateResponse{
		Certificate: pemCert(c), Chain: []string{pemCert(p.inter)}, Root: pemCert(p.root),
		RosterEntry: protocol.AdminRosterEntry{Serial: 12345679, Admin: "John Doe", Role: "sysadmin",
			PublicKeySHA256: hex.EncodeToString(sum[:]), NotAfter: protocol.FormatTimestamp(c.NotAfter)},
	}
}

func TestCheckReissued(t *testing.T) {
	p := newRefreshPKI(t)
	good := leaf{cn: "John Doe", ou: "sysadmin", o: "acme-corp", key: p.slotKey,
		uri: "urn:kiwistack:admin:acme-corp:12345679", notAfter: time.Now().Add(365 * 24 * time.Hour)}
	req := yubikey.IssueRequest{Serial: 12345679, CSR: p.csr, Tenant: "acme-corp"}
	if c, err := checkReissued(p.answer(t, good), p.root, req, time.Now()); err != nil || c.Subject.CommonName != "John Doe" {
		t.Fatalf("a good answer: %v", err)
	}
	other := newRefreshPKI(t)
	for _, tc := range []struct {
		name   string
		change func(l *leaf, r *protocol.AdminCertificateResponse, req *yubikey.IssueRequest)
		want   string
	}{
		{"another root", func(_ *leaf, r *protocol.AdminCertificateResponse, _ *yubikey.IssueRequest) {
			r.Root = pemCert(other.root)
		}, "another root"},
		{"no chain", func(_ *leaf, r *protocol.AdminCertificateResponse, _ *yubikey.IssueRequest) { r.Chain = nil }, "without the intermediate"},
		{"issued elsewhere", func(_ *leaf, r *protocol.AdminCertificateResponse, _ *yubikey.IssueRequest) {
			r.Chain = []string{pemCert(other.inter)}
		}, "does not chain"},
		{"another key", func(l *leaf, _ *protocol.AdminCertificateResponse, _ *yubikey.IssueRequest) { l.key = mustKey(t) }, "another key"},
		{"roster entry for another serial", func(_ *leaf, r *protocol.AdminCertificateResponse, _ *yubikey.IssueRequest) {
			r.RosterEntry.Serial++
		}, "roster entry"},
		{"CN not the roster's", func(l *leaf, _ *protocol.AdminCertificateResponse, _ *yubikey.IssueRequest) { l.cn = "Mallory" }, "roster names"},
		{"OU not the roster's", func(l *leaf, _ *protocol.AdminCertificateResponse, _ *yubikey.IssueRequest) { l.ou = "founder" }, "roster names"},
		{"O not the intermediate's", func(l *leaf, _ *protocol.AdminCertificateResponse, _ *yubikey.IssueRequest) { l.o = "evil-corp" }, "its intermediate"},
		{"another tenant than the old certificate", func(_ *leaf, _ *protocol.AdminCertificateResponse, req *yubikey.IssueRequest) {
			req.Tenant = "globex"
		}, "old certificate"},
		{"wrong URI", func(l *leaf, _ *protocol.AdminCertificateResponse, _ *yubikey.IssueRequest) {
			l.uri = "urn:kiwistack:admin:acme-corp:1"
		}, "URIs"},
		{"expired", func(l *leaf, _ *protocol.AdminCertificateResponse, _ *yubikey.IssueRequest) {
			l.notAfter = time.Now().Add(-time.Second)
		}, "does not chain"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l, r := good, req
			var resp *protocol.AdminCertificateResponse
			// Changes to the leaf apply before it is issued, the others after.
			tc.change(&l, &protocol.AdminCertificateResponse{}, &r)
			resp = p.answer(t, l)
			tc.change(&leaf{}, resp, &yubikey.IssueRequest{})
			if resp.RosterEntry.Admin != "John Doe" || resp.RosterEntry.Role != "sysadmin" {
				t.Fatal("the roster entry changed")
			}
			_, err := checkReissued(resp, p.root, r, time.Now())
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v, want an error about %q", err, tc.want)
			}
		})
	}
}
