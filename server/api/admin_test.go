package api

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"math/big"
	"net/http"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/kiwistack/endpoint/attest"
	"github.com/kiwistack/endpoint/enroll/protocol"
	"github.com/kiwistack/endpoint/server/ca"
	"github.com/kiwistack/endpoint/test/vyubikey/card"
)

const provisioningToken = "We ship the keys, we provision the certs, we operate the chain"

// Yubico's attestation extensions, as test/vyubikey/card writes them.
var (
	oidYKFirmware   = asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 41482, 3, 3}
	oidYKSerial     = asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 41482, 3, 7}
	oidYKPolicy     = asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 41482, 3, 8}
	oidYKFormFactor = asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 41482, 3, 9}
)

// attestationPKI is a virtual YubiKey attestation root (test/vyubikey's)
// and one f9 certificate under it.
type attestationPKI struct {
	root  *x509.Certificate
	f9    *x509.Certificate
	f9Key crypto.Signer
}

var (
	attOnce sync.Once
	attPKI  [2]*attestationPKI // trusted, foreign
	attErr  error
)

func newAttestationPKI() (*attestationPKI, error) {
	root, rootKey, err := card.NewAttestationRoot(rand.Reader)
	if err != nil {
		return nil, err
	}
	f9Key, _ := ecdsa.GenerateKey(elliptic256(), rand.Reader)
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(7), Subject: pkix.Name{CommonName: "Yubico PIV Attestation"},
		NotBefore: root.NotBefore, NotAfter: root.NotAfter, BasicConstraintsValid: true, IsCA: true, MaxPathLenZero: true,
		ExtraExtensions: []pkix.Extension{{Id: oidYKFirmware, Value: []byte{5, 7, 1}}},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, root, f9Key.Public(), rootKey)
	if err != nil {
		return nil, err
	}
	f9, err := x509.ParseCertificate(der)
	return &attestationPKI{root: root, f9: f9, f9Key: f9Key}, err
}

// attestationPKIs returns a trusted and a foreign attestation PKI, made once.
func attestationPKIs(tb testing.TB) (trusted, foreign *attestationPKI) {
	tb.Helper()
	attOnce.Do(func() {
		for i := range attPKI {
			if attPKI[i], attErr = newAttestationPKI(); attErr != nil {
				return
			}
		}
	})
	if attErr != nil {
		tb.Fatal(attErr)
	}
	return attPKI[0], attPKI[1]
}

// attest issues a slot attestation for pub as a YubiKey does.
func (p *attestationPKI) attest(tb testing.TB, pub crypto.PublicKey, serial uint32, slot string, pin, touch byte) *x509.Certificate {
	tb.Helper()
	sn, _ := asn1.Marshal(int64(serial))
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(int64(serial)), Subject: pkix.Name{CommonName: "YubiKey PIV Attestation " + slot},
		NotBefore: p.f9.NotBefore, NotAfter: p.f9.NotAfter,
		ExtraExtensions: []pkix.Extension{
			{Id: oidYKFirmware, Value: []byte{5, 7, 1}},
			{Id: oidYKSerial, Value: sn},
			{Id: oidYKPolicy, Value: []byte{pin, touch}},
			{Id: oidYKFormFactor, Value: []byte{3}},
		},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, p.f9, pub, p.f9Key)
	if err != nil {
		tb.Fatal(err)
	}
	c, err := x509.ParseCertificate(der)
	if err != nil {
		tb.Fatal(err)
	}
	return c
}

// countingCA counts the admin certificates it issues.
type countingCA struct {
	CA
	issued atomic.Int32
}

func (c *countingCA) SignAdmin(ctx context.Context, req ca.AdminRequest) (*x509.Certificate, []*x509.Certificate, error) {
	leaf, chain, err := c.CA.SignAdmin(ctx, req)
	if err == nil {
		c.issued.Add(1)
	}
	return leaf, chain, err
}

// adminEnv is an API with a provisioning token and the trusted attestation
// root plus Yubico's.
func adminEnv(t *testing.T, configure ...func(*Config)) (*env, *countingCA) {
	t.Helper()
	trusted, _ := attestationPKIs(t)
	var cc *countingCA
	sum := sha256.Sum256([]byte(provisioningToken))
	e := newEnv(t, append([]func(*Config){func(c *Config) {
		cc = &countingCA{CA: c.CA}
		c.CA = cc
		c.ProvisioningTokenSHA256 = sum[:]
		roots := attest.YubicoRoots()
		roots.AddCert(trusted.root)
		c.AttestationVerifier = attest.Verifier{Roots: roots, Intermediates: attest.YubicoIntermediates()}
	}}, configure...)...)
	return e, cc
}

func pemOf(typ string, der []byte) string {
	return string(pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}))
}

// adminRequest is a valid request for a fresh software key attested by p.
func adminRequest(t *testing.T, p *attestationPKI) (protocol.AdminCertificateRequest, *ecdsa.PrivateKey) {
	t.Helper()
	k := newKey(t)
	const serial = 12345679
	der, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{Subject: pkix.Name{CommonName: "John Doe"}}, k)
	if err != nil {
		t.Fatal(err)
	}
	return protocol.AdminCertificateRequest{
		Serial: serial, Admin: "John Doe", Role: RoleSysadmin,
		CSR:                     pemOf("CERTIFICATE REQUEST", der),
		Attestation:             pemOf("CERTIFICATE", p.attest(t, &k.PublicKey, serial, "9a", 2, 2).Raw),
		AttestationIntermediate: pemOf("CERTIFICATE", p.f9.Raw),
	}, k
}

// postAdmin sends body with the given Authorization header value.
func (e *env) postAdmin(t *testing.T, auth, ctype string, body []byte) (int, []byte) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, e.srv.URL+"/v1/admin-certificates", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", ctype)
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	resp, err := e.srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var buf bytes.Buffer
	_, _ = buf.ReadFrom(resp.Body)
	return resp.StatusCode, buf.Bytes()
}

func readFixture(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile("../../../shared/fixtures/yubikey/attestation/yk-5.7.1-29173673/" + name)
	if err != nil {
		t.Fatalf("reading the YubiKey fixture: %v", err)
	}
	return string(b)
}

func TestAdminCertificateRejects(t *testing.T) {
	trusted, foreign := attestationPKIs(t)
	bearer := "Bearer " + provisioningToken
	type build func(t *testing.T) (auth, ctype string, body []byte)
	changed := func(change func(t *testing.T, r *protocol.AdminCertificateRequest)) build {
		return func(t *testing.T) (string, string, []byte) {
			r, _ := adminRequest(t, trusted)
			change(t, &r)
			b, _ := json.Marshal(r)
			return bearer, ctJSON, b
		}
	}
	withKey := func(change func(t *testing.T, r *protocol.AdminCertificateRequest, k *ecdsa.PrivateKey)) build {
		return func(t *testing.T) (string, string, []byte) {
			r, k := adminRequest(t, trusted)
			change(t, &r, k)
			b, _ := json.Marshal(r)
			return bearer, ctJSON, b
		}
	}
	auth := func(a string) build {
		return func(t *testing.T) (string, string, []byte) {
			r, _ := adminRequest(t, trusted)
			b, _ := json.Marshal(r)
			return a, ctJSON, b
		}
	}
	raw := func(body string) build {
		return func(*testing.T) (string, string, []byte) { return bearer, ctJSON, []byte(body) }
	}
	cases := []struct {
		name   string
		build  build
		status int
		reason string
	}{
		{"no token", auth(""), 401, ReasonProvisioningTokenMissing},
		{"basic auth", auth("Basic dXNlcjpwYXNz"), 401, ReasonProvisioningTokenMissing},
		{"wrong token", auth("Bearer We ship the keys"), 401, ReasonProvisioningToken},
		{"bad JSON", raw(`{"serial": 1, "admin": `), 400, protocol.ReasonMalformed},
		{"unknown field", raw(`{"serial":1,"admin":"a","role":"sysadmin","extra":1}`), 400, protocol.ReasonMalformed},
		{"oversize", raw(`{"csr":"` + strings.Repeat("A", protocol.MaxRequestBytes) + `"}`), 413, ReasonBodyTooLarge},
		{"wrong content type", func(t *testing.T) (string, string, []byte) {
			_, _, b := auth(bearer)(t)
			return bearer, "text/plain", b
		}, 415, ReasonMediaType},
		{"unknown role", changed(func(_ *testing.T, r *protocol.AdminCertificateRequest) { r.Role = "intern" }), 400, ReasonUnknownRole},
		{"bad admin name", changed(func(_ *testing.T, r *protocol.AdminCertificateRequest) { r.Admin = "John\nDoe" }), 400, ReasonBadSubject},
		{"lifetime too long", changed(func(_ *testing.T, r *protocol.AdminCertificateRequest) { r.Lifetime = "9000h" }), 400, ReasonBadLifetime},
		{"lifetime too short", changed(func(_ *testing.T, r *protocol.AdminCertificateRequest) { r.Lifetime = "1m" }), 400, ReasonBadLifetime},
		{"garbage CSR", changed(func(_ *testing.T, r *protocol.AdminCertificateRequest) {
			r.CSR = pemOf("CERTIFICATE REQUEST", []byte("not DER"))
		}), 400, ReasonBadCSR},
		{"CSR signature", changed(func(t *testing.T, r *protocol.AdminCertificateRequest) {
			b, _ := pem.Decode([]byte(r.CSR))
			b.Bytes[len(b.Bytes)-3] ^= 0x55
			r.CSR = pemOf("CERTIFICATE REQUEST", b.Bytes)
		}), 400, ReasonCSRSignature},
		{"garbage attestation", changed(func(_ *testing.T, r *protocol.AdminCertificateRequest) {
			r.Attestation = pemOf("CERTIFICATE", []byte("not DER"))
		}), 400, ReasonBadAttestation},
		{"not a YubiKey attestation", changed(func(_ *testing.T, r *protocol.AdminCertificateRequest) {
			r.Attestation = r.AttestationIntermediate // no serial or policy extension
			r.AttestationIntermediate = pemOf("CERTIFICATE", trusted.root.Raw)
		}), 400, ReasonBadAttestation},
		{"foreign intermediate", withKey(func(t *testing.T, r *protocol.AdminCertificateRequest, k *ecdsa.PrivateKey) {
			r.Attestation = pemOf("CERTIFICATE", foreign.attest(t, &k.PublicKey, r.Serial, "9a", 2, 2).Raw)
			r.AttestationIntermediate = pemOf("CERTIFICATE", foreign.f9.Raw)
		}), 403, ReasonAttestationUntrusted},
		{"attestation with another f9", changed(func(_ *testing.T, r *protocol.AdminCertificateRequest) {
			r.AttestationIntermediate = pemOf("CERTIFICATE", foreign.f9.Raw)
		}), 403, ReasonAttestationUntrusted},
		{"slot 9c", withKey(func(t *testing.T, r *protocol.AdminCertificateRequest, k *ecdsa.PrivateKey) {
			r.Attestation = pemOf("CERTIFICATE", trusted.attest(t, &k.PublicKey, r.Serial, "9c", 2, 2).Raw)
		}), 400, ReasonAttestationSlot},
		{"wrong serial", changed(func(_ *testing.T, r *protocol.AdminCertificateRequest) { r.Serial++ }), 400, ReasonAttestationSerial},
		{"real YubiKey attestation, CSR of another key", changed(func(t *testing.T, r *protocol.AdminCertificateRequest) {
			r.Serial = 29173673
			r.Attestation = readFixture(t, "attestation-9a.pem")
			r.AttestationIntermediate = readFixture(t, "intermediate-f9.pem")
		}), 400, ReasonAttestedKeyMismatch},
		{"touch never", withKey(func(t *testing.T, r *protocol.AdminCertificateRequest, k *ecdsa.PrivateKey) {
			r.Attestation = pemOf("CERTIFICATE", trusted.attest(t, &k.PublicKey, r.Serial, "9a", 2, 1).Raw)
		}), 403, ReasonAttestationPolicy},
		{"PIN never", withKey(func(t *testing.T, r *protocol.AdminCertificateRequest, k *ecdsa.PrivateKey) {
			r.Attestation = pemOf("CERTIFICATE", trusted.attest(t, &k.PublicKey, r.Serial, "9a", 1, 2).Raw)
		}), 403, ReasonAttestationPolicy},
	}
	e, cc := adminEnv(t)
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			a, ctype, body := tc.build(t)
			before := e.audits(t)
			status, resp := e.postAdmin(t, a, ctype, body)
			var er protocol.ErrorResponse
			if err := json.Unmarshal(resp, &er); err != nil || status != tc.status || er.Reason != tc.reason || er.Message == "" {
				t.Fatalf("got %d %s, want %d %s", status, resp, tc.status, tc.reason)
			}
			if n := e.audits(t) - before; n != 1 {
				t.Errorf("%d audit entries, want 1", n)
			}
			if n := cc.issued.Load(); n != 0 {
				t.Errorf("%d admin certificates issued", n)
			}
		})
	}
	if n := e.devices(t); n != 0 {
		t.Errorf("%d devices written", n)
	}
	entries, err := e.st.AuditEntries(context.Background(), 0, 100)
	if err != nil {
		t.Fatal(err)
	}
	for _, en := range entries {
		if en.Operation != protocol.OpIssueAdminCertificate || en.Result != resultRejected {
			t.Errorf("audit entry %+v", en)
		}
	}
}

func TestAdminCertificateDisabled(t *testing.T) {
	e, cc := adminEnv(t, func(c *Config) { c.ProvisioningTokenSHA256 = nil })
	trusted, _ := attestationPKIs(t)
	r, _ := adminRequest(t, trusted)
	b, _ := json.Marshal(r)
	status, resp := e.postAdmin(t, "Bearer "+provisioningToken, ctJSON, b)
	var er protocol.ErrorResponse
	if json.Unmarshal(resp, &er) != nil || status != http.StatusForbidden || er.Reason != ReasonProvisioningDisabled {
		t.Fatalf("got %d %s", status, resp)
	}
	if e.audits(t) != 1 || cc.issued.Load() != 0 {
		t.Errorf("audits %d, issued %d", e.audits(t), cc.issued.Load())
	}
}

func TestAdminCertificateIssued(t *testing.T) {
	e, cc := adminEnv(t)
	trusted, _ := attestationPKIs(t)
	r, k := adminRequest(t, trusted)
	r.Lifetime = "720h"
	b, _ := json.Marshal(r)
	status, body := e.postAdmin(t, "Bearer "+provisioningToken, ctJSON, b)
	if status != http.StatusCreated {
		t.Fatalf("got %d %s", status, body)
	}
	var resp protocol.AdminCertificateResponse
	if err := protocol.DecodeJSON(bytes.NewReader(body), protocol.MaxResponseBytes, &resp); err != nil {
		t.Fatalf("response: %v\n%s", err, body)
	}
	leaf, err := attest.ParseCertificatePEM([]byte(resp.Certificate))
	if err != nil {
		t.Fatal(err)
	}
	root, err := attest.ParseCertificatePEM([]byte(resp.Root))
	if err != nil {
		t.Fatal(err)
	}
	roots, inters := x509.NewCertPool(), x509.NewCertPool()
	roots.AddCert(root)
	for _, c := range resp.Chain {
		ic, err := attest.ParseCertificatePEM([]byte(c))
		if err != nil {
			t.Fatal(err)
		}
		inters.AddCert(ic)
	}
	if _, err := leaf.Verify(x509.VerifyOptions{Roots: roots, Intermediates: inters, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}); err != nil {
		t.Errorf("certificate does not chain to the returned root: %v", err)
	}
	if !root.Equal(e.pki.Root) {
		t.Error("returned root is not the tenant root")
	}
	s := leaf.Subject
	if s.CommonName != "John Doe" || len(s.OrganizationalUnit) != 1 || s.OrganizationalUnit[0] != RoleSysadmin ||
		len(s.Organization) != 1 || s.Organization[0] != tenant {
		t.Errorf("subject %s", s)
	}
	if len(leaf.URIs) != 1 || leaf.URIs[0].String() != ca.AdminURI(tenant, r.Serial).String() {
		t.Errorf("URIs %v", leaf.URIs)
	}
	if !k.PublicKey.Equal(leaf.PublicKey) {
		t.Error("certificate is for another key")
	}
	if d := leaf.NotAfter.Sub(leaf.NotBefore); d < 719*time.Hour || d > 721*time.Hour {
		t.Errorf("lifetime %s, want 720h", d)
	}
	sum := sha256.Sum256(leaf.RawSubjectPublicKeyInfo)
	re := resp.RosterEntry
	if re.Serial != r.Serial || re.Admin != "John Doe" || re.Role != RoleSysadmin || re.PublicKeySHA256 != hexOf(sum[:]) || re.NotAfter == "" {
		t.Errorf("roster entry %+v", re)
	}
	if cc.issued.Load() != 1 {
		t.Errorf("%d issued", cc.issued.Load())
	}
	entries, err := e.st.AuditEntries(context.Background(), 0, 10)
	if err != nil || len(entries) != 1 {
		t.Fatalf("audit entries %v, %v", entries, err)
	}
	if en := entries[0]; en.Actor != r.Serial || en.Operation != protocol.OpIssueAdminCertificate || en.Result != resultAccepted || en.ParamsDigest != re.PublicKeySHA256 {
		t.Errorf("audit entry %+v", en)
	}
}

func hexOf(b []byte) string { return hex.EncodeToString(b) }

func elliptic256() elliptic.Curve { return elliptic.P256() }
