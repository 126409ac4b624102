package protocol

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/json"
	"errors"
	"math/big"
	"reflect"
	"strings"
	"testing"
	"time"
)

// now is the fixed verification time of the tests.
var now = time.Date(2026, 11, 28, 12, 0, 0, 0, time.UTC)

// pki is a test tenant: root, intermediate and admin certificates.
type pki struct {
	roots, inters *x509.CertPool
	root, inter   *x509.Certificate
	rootKey       *ecdsa.PrivateKey
	interKey      *ecdsa.PrivateKey
}

func mustKey(t testing.TB, c elliptic.Curve) *ecdsa.PrivateKey {
	t.Helper()
	k, err := ecdsa.GenerateKey(c, rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

var serialCounter int64 = 100

func mustCert(t testing.TB, tmpl *x509.Certificate, parent *x509.Certificate, pub any, signer crypto.Signer) *x509.Certificate {
	t.Helper()
	serialCounter++
	tmpl.SerialNumber = big.NewInt(serialCounter)
	if parent == nil {
		parent = tmpl
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

func newPKI(t testing.TB, name string) *pki {
	t.Helper()
	rk := mustKey(t, elliptic.P256())
	root := mustCert(t, &x509.Certificate{
		Subject: pkix.Name{CommonName: name + " root"}, NotBefore: now.Add(-time.Hour), NotAfter: now.Add(24 * time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}, nil, &rk.PublicKey, rk)
	ik := mustKey(t, elliptic.P256())
	inter := mustCert(t, &x509.Certificate{
		Subject: pkix.Name{CommonName: name + " intermediate"}, NotBefore: now.Add(-time.Hour), NotAfter: now.Add(24 * time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}, root, &ik.PublicKey, rk)
	p := &pki{roots: x509.NewCertPool(), inters: x509.NewCertPool(), root: root, inter: inter, rootKey: rk, interKey: ik}
	p.roots.AddCert(root)
	p.inters.AddCert(inter)
	return p
}

// sibling returns another tenant's intermediate under the same root.
func (p *pki) sibling(t testing.TB, name string) *pki {
	t.Helper()
	ik := mustKey(t, elliptic.P256())
	inter := mustCert(t, &x509.Certificate{
		Subject: pkix.Name{CommonName: name + " intermediate"}, NotBefore: now.Add(-time.Hour), NotAfter: now.Add(24 * time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}, p.root, &ik.PublicKey, p.rootKey)
	s := &pki{roots: p.roots, inters: x509.NewCertPool(), root: p.root, inter: inter, rootKey: p.rootKey, interKey: ik}
	s.inters.AddCert(inter)
	return s
}

// admin issues a slot-9a-like certificate for key pub.
func (p *pki) admin(t testing.TB, pub any, notAfter time.Time, eku []x509.ExtKeyUsage) *x509.Certificate {
	t.Helper()
	return mustCert(t, &x509.Certificate{
		Subject:   pkix.Name{CommonName: "admin", OrganizationalUnit: []string{"sysadmin"}, Organization: []string{"acme"}},
		NotBefore: now.Add(-time.Hour), NotAfter: notAfter,
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: eku,
	}, p.inter, pub, p.interKey)
}

func testStatement(t testing.TB) *Statement {
	t.Helper()
	s := &Statement{
		Operation:           OpEnrollDevice,
		Tenant:              "acme",
		Timestamp:           FormatTimestamp(now),
		YubiKeySerial:       12345678,
		Nonce:               base64.RawURLEncoding.EncodeToString(make([]byte, 32)),
		HardwareFingerprint: "hw:0123456789abcdef",
		DeviceKeySHA256:     DeviceKeyHash([]byte("spki")),
		WireGuardPublicKey:  base64.StdEncoding.EncodeToString(make([]byte, 32)),
	}
	d, err := s.CanonicalOperation().Digest()
	if err != nil {
		t.Fatal(err)
	}
	s.Digest = d
	return s
}

// asn1Signer returns a Signer that signs like the YubiKey: ASN.1 DER.
func asn1Signer(k *ecdsa.PrivateKey) Signer {
	return func(digest []byte) ([]byte, error) { return ecdsa.SignASN1(rand.Reader, k, digest) }
}

func TestRoundTrip(t *testing.T) {
	p := newPKI(t, "acme")
	for _, tc := range []struct {
		name  string
		curve elliptic.Curve
		alg   string
		chain bool // put the intermediate into x5c instead of the pool
	}{
		{"P-256", elliptic.P256(), AlgES256, false},
		{"P-384", elliptic.P384(), AlgES384, false},
		{"P-256 chain in x5c", elliptic.P256(), AlgES256, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			k := mustKey(t, tc.curve)
			leaf := p.admin(t, &k.PublicKey, now.Add(time.Hour), []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth})
			chain := []*x509.Certificate{leaf}
			inters := p.inters
			if tc.chain {
				chain = append(chain, p.inter)
				inters = nil
			}
			stmt := testStatement(t)
			for _, signer := range []Signer{asn1Signer(k), SignerFrom(k)} {
				compact, err := Sign(context.Background(), signer, chain, stmt)
				if err != nil {
					t.Fatal(err)
				}
				s, err := Parse(compact)
				if err != nil {
					t.Fatal(err)
				}
				if s.Header.Alg != tc.alg || s.Header.Typ != MediaType || len(s.Header.X5C) != len(chain) {
					t.Fatalf("header = %+v", s.Header)
				}
				got, cert, err := s.Verify(p.roots, inters, now)
				if err != nil {
					t.Fatal(err)
				}
				if !reflect.DeepEqual(got, stmt) {
					t.Fatalf("statement = %+v, want %+v", got, stmt)
				}
				if !cert.Equal(leaf) {
					t.Fatal("Verify returned another certificate")
				}
			}
		})
	}
}

// x5c encodes certificates for a header.
func x5c(certs ...*x509.Certificate) string {
	var parts []string
	for _, c := range certs {
		parts = append(parts, `"`+base64.StdEncoding.EncodeToString(c.Raw)+`"`)
	}
	return "[" + strings.Join(parts, ",") + "]"
}

// forge signs arbitrary header and payload bytes with k, as an attacker
// with a key of their own (or a buggy client) would.
func forge(t testing.TB, k *ecdsa.PrivateKey, header, payload string) string {
	t.Helper()
	input := SigningInput([]byte(header), []byte(payload))
	h, size := crypto.SHA256, 32
	if k.Curve == elliptic.P384() {
		h, size = crypto.SHA384, 48
	}
	hh := h.New()
	hh.Write(input)
	der, err := ecdsa.SignASN1(rand.Reader, k, hh.Sum(nil))
	if err != nil {
		t.Fatal(err)
	}
	raw, err := derToRaw(der, size)
	if err != nil {
		t.Fatal(err)
	}
	return string(input) + "." + base64.RawURLEncoding.EncodeToString(raw)
}

func TestParseVerifyRejects(t *testing.T) {
	p := newPKI(t, "acme")
	other := newPKI(t, "other")
	k := mustKey(t, elliptic.P256())
	clientAuth := []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}
	leaf := p.admin(t, &k.PublicKey, now.Add(time.Hour), clientAuth)
	k384 := mustKey(t, elliptic.P384())
	leaf384 := p.admin(t, &k384.PublicKey, now.Add(time.Hour), clientAuth)
	otherLeaf := other.admin(t, &k.PublicKey, now.Add(time.Hour), clientAuth)
	sibling := p.sibling(t, "globex")
	siblingLeaf := sibling.admin(t, &k.PublicKey, now.Add(time.Hour), clientAuth)
	tenantAnchor := x509.NewCertPool()
	tenantAnchor.AddCert(p.inter)
	expired := p.admin(t, &k.PublicKey, now.Add(-time.Minute), clientAuth)
	serverOnly := p.admin(t, &k.PublicKey, now.Add(time.Hour), []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth})
	edPub, edPriv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	_ = edPriv
	edLeaf := p.admin(t, edPub, now.Add(time.Hour), clientAuth)
	attacker := mustKey(t, elliptic.P256())

	stmt := testStatement(t)
	payloadBytes, err := json.Marshal(stmt)
	if err != nil {
		t.Fatal(err)
	}
	payload := string(payloadBytes)
	good, err := Sign(context.Background(), asn1Signer(k), []*x509.Certificate{leaf}, stmt)
	if err != nil {
		t.Fatal(err)
	}
	parts := strings.Split(good, ".")
	hdr := func(alg, extra string, certs ...*x509.Certificate) string {
		return `{"alg":"` + alg + `","typ":"` + MediaType + `","x5c":` + x5c(certs...) + extra + `}`
	}
	std := hdr(AlgES256, "", leaf)
	withPayload := func(mutate func(s *Statement)) string {
		s := *testStatement(t)
		mutate(&s)
		b, err := json.Marshal(s)
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	b64 := base64.RawURLEncoding.EncodeToString

	tests := []struct {
		name    string
		compact string
		roots   *x509.CertPool // nil: p.roots
		noRoots bool
		want    error
	}{
		{"alg none", b64([]byte(`{"alg":"none","typ":"`+MediaType+`","x5c":`+x5c(leaf)+`}`)) + "." + parts[1] + ".", nil, false, ErrMalformed},
		{"alg none signed part", forge(t, k, hdr("none", "", leaf), payload), nil, false, ErrAlgorithm},
		{"alg HS256", forge(t, k, hdr("HS256", "", leaf), payload), nil, false, ErrAlgorithm},
		{"alg RS256", forge(t, k, hdr("RS256", "", leaf), payload), nil, false, ErrAlgorithm},
		{"alg ES512", forge(t, k, hdr("ES512", "", leaf), payload), nil, false, ErrAlgorithm},
		{"alg lowercase", forge(t, k, hdr("es256", "", leaf), payload), nil, false, ErrAlgorithm},
		{"ES384 header with P-256 key", forge(t, k, hdr(AlgES384, "", leaf), payload), nil, false, ErrAlgorithm},
		{"ES256 header with P-384 key", forge(t, k384, hdr(AlgES256, "", leaf384), payload), nil, false, ErrAlgorithm},
		{"Ed25519 signer certificate", forge(t, k, hdr(AlgES256, "", edLeaf), payload), nil, false, ErrAlgorithm},
		{"tampered payload", parts[0] + "." + b64([]byte(withPayload(func(s *Statement) { s.YubiKeySerial = 1 }))) + "." + parts[2], nil, false, ErrSignature},
		{"tampered header", b64([]byte(hdr(AlgES256, "", leaf, p.inter))) + "." + parts[1] + "." + parts[2], nil, false, ErrSignature},
		{"signed by another key", forge(t, attacker, std, payload), nil, false, ErrSignature},
		{"truncated signature", parts[0] + "." + parts[1] + "." + parts[2][:60], nil, false, ErrSignature},
		{"zero signature", parts[0] + "." + parts[1] + "." + b64(make([]byte, 64)), nil, false, ErrSignature},
		{"missing x5c", forge(t, k, `{"alg":"ES256","typ":"`+MediaType+`"}`, payload), nil, false, ErrMalformed},
		{"empty x5c", forge(t, k, hdr(AlgES256, ""), payload), nil, false, ErrMalformed},
		{"x5c not a certificate", forge(t, k, `{"alg":"ES256","typ":"`+MediaType+`","x5c":["AAAA"]}`, payload), nil, false, ErrMalformed},
		{"x5c not base64", forge(t, k, `{"alg":"ES256","typ":"`+MediaType+`","x5c":["!!"]}`, payload), nil, false, ErrMalformed},
		{"x5c from another CA", forge(t, k, hdr(AlgES256, "", otherLeaf), payload), nil, false, ErrChain},
		{"x5c with the other CA's intermediate", forge(t, k, hdr(AlgES256, "", otherLeaf, other.inter), payload), nil, false, ErrChain},
		{"expired certificate", forge(t, k, hdr(AlgES256, "", expired), payload), nil, false, ErrChain},
		{"certificate without client auth", forge(t, k, hdr(AlgES256, "", serverOnly), payload), nil, false, ErrChain},
		{"another tenant under the same root", forge(t, k, hdr(AlgES256, "", siblingLeaf, sibling.inter), payload), tenantAnchor, false, ErrChain},
		{"nil roots", good, nil, true, ErrChain},
		{"wrong roots", good, other.roots, false, ErrChain},
		{"padding", parts[0] + "." + parts[1] + "." + parts[2] + "==", nil, false, ErrMalformed},
		{"padding in header", parts[0] + "=." + parts[1] + "." + parts[2], nil, false, ErrMalformed},
		{"standard base64 alphabet", parts[0] + "." + strings.NewReplacer("-", "+", "_", "/").Replace(parts[1]) + "+/." + parts[2], nil, false, ErrMalformed},
		{"extra dots", good + ".", nil, false, ErrMalformed},
		{"four parts", parts[0] + "." + parts[1] + "." + parts[1] + "." + parts[2], nil, false, ErrMalformed},
		{"two parts", parts[0] + "." + parts[1], nil, false, ErrMalformed},
		{"empty", "", nil, false, ErrMalformed},
		{"empty payload", parts[0] + ".." + parts[2], nil, false, ErrMalformed},
		{"duplicate header key", forge(t, k, `{"alg":"ES256","alg":"none","typ":"`+MediaType+`","x5c":`+x5c(leaf)+`}`, payload), nil, false, ErrMalformed},
		{"duplicate payload key", forge(t, k, std, strings.Replace(payload, `{`, `{"tenant":"evil",`, 1)), nil, false, ErrMalformed},
		{"unknown header member", forge(t, k, hdr(AlgES256, `,"foo":1`, leaf), payload), nil, false, ErrMalformed},
		{"unknown payload member", forge(t, k, std, strings.Replace(payload, `{`, `{"admin":true,`, 1)), nil, false, ErrMalformed},
		{"jwk header injection", forge(t, k, hdr(AlgES256, `,"jwk":{"kty":"EC","crv":"P-256","x":"AA","y":"AA"}`, leaf), payload), nil, false, ErrMalformed},
		{"jku header", forge(t, k, hdr(AlgES256, `,"jku":"https://evil.example/keys"`, leaf), payload), nil, false, ErrMalformed},
		{"x5u header", forge(t, k, hdr(AlgES256, `,"x5u":"https://evil.example/cert"`, leaf), payload), nil, false, ErrMalformed},
		{"crit header", forge(t, k, hdr(AlgES256, `,"crit":["exp"],"exp":1`, leaf), payload), nil, false, ErrMalformed},
		{"kid header", forge(t, k, hdr(AlgES256, `,"kid":"1"`, leaf), payload), nil, false, ErrMalformed},
		{"wrong typ", forge(t, k, `{"alg":"ES256","typ":"JWT","x5c":`+x5c(leaf)+`}`, payload), nil, false, ErrMalformed},
		{"header not an object", forge(t, k, `["alg"]`, payload), nil, false, ErrMalformed},
		{"trailing data in header", forge(t, k, std+`{}`, payload), nil, false, ErrMalformed},
		{"payload not an object", forge(t, k, std, `"statement"`), nil, false, ErrMalformed},
		{"payload invalid UTF-8", forge(t, k, std, strings.Replace(payload, `hw:`, "hw:\xff", 1)), nil, false, ErrMalformed},
		{"huge input", parts[0] + "." + strings.Repeat("A", MaxCompactSize) + "." + parts[2], nil, false, ErrMalformed},
		{"deeply nested header", forge(t, k, hdr(AlgES256, `,"x":`+strings.Repeat("[", 100)+strings.Repeat("]", 100), leaf), payload), nil, false, ErrMalformed},
		{"digest mismatch", forge(t, k, std, withPayload(func(s *Statement) { s.HardwareFingerprint = "hw:other" })), nil, false, ErrStatement},
		{"fractional timestamp", forge(t, k, std, withPayload(func(s *Statement) { s.Timestamp = "2026-11-28T12:00:00.5Z" })), nil, false, ErrStatement},
		{"timestamp with offset", forge(t, k, std, withPayload(func(s *Statement) { s.Timestamp = "2026-11-28T13:00:00+01:00" })), nil, false, ErrStatement},
		{"missing serial", forge(t, k, std, withPayload(func(s *Statement) { s.YubiKeySerial = 0 })), nil, false, ErrStatement},
		{"short nonce", forge(t, k, std, withPayload(func(s *Statement) { s.Nonce = "AAAA" })), nil, false, ErrStatement},
		{"bad wireguard key", forge(t, k, std, withPayload(func(s *Statement) { s.WireGuardPublicKey = "AAAA" })), nil, false, ErrStatement},
		{"uppercase device key hash", forge(t, k, std, withPayload(func(s *Statement) { s.DeviceKeySHA256 = strings.ToUpper(s.DeviceKeySHA256) })), nil, false, ErrStatement},
	}
	if len(tests) < 20 {
		t.Fatalf("only %d cases", len(tests))
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			roots := p.roots
			if tc.roots != nil {
				roots = tc.roots
			}
			if tc.noRoots {
				roots = nil
			}
			s, err := Parse(tc.compact)
			if err == nil {
				_, _, err = s.Verify(roots, p.inters, now)
			}
			if !errors.Is(err, tc.want) {
				t.Fatalf("err = %v, want %v", err, tc.want)
			}
			if Reason(err) != Reason(tc.want) {
				t.Fatalf("reason = %s, want %s (err %v)", Reason(err), Reason(tc.want), err)
			}
		})
	}
}

func TestSignRejects(t *testing.T) {
	p := newPKI(t, "acme")
	k := mustKey(t, elliptic.P256())
	leaf := p.admin(t, &k.PublicKey, now.Add(time.Hour), []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth})
	wrong := mustKey(t, elliptic.P256())
	k521 := mustKey(t, elliptic.P521())
	leaf521 := p.admin(t, &k521.PublicKey, now.Add(time.Hour), nil)
	canceled, cancel := context.WithCancel(context.Background())
	cancel()
	errCard := errors.New("card removed")
	bad := testStatement(t)
	bad.Digest = "x"
	for _, tc := range []struct {
		name   string
		ctx    context.Context
		signer Signer
		chain  []*x509.Certificate
		stmt   *Statement
		want   error
	}{
		{"key does not match certificate", context.Background(), asn1Signer(wrong), []*x509.Certificate{leaf}, testStatement(t), ErrSignature},
		{"signer returns raw r||s", context.Background(), func(d []byte) ([]byte, error) { return make([]byte, 64), nil }, []*x509.Certificate{leaf}, testStatement(t), ErrSignature},
		{"signer fails", context.Background(), func(d []byte) ([]byte, error) { return nil, errCard }, []*x509.Certificate{leaf}, testStatement(t), errCard},
		{"canceled", canceled, asn1Signer(k), []*x509.Certificate{leaf}, testStatement(t), context.Canceled},
		{"P-521", context.Background(), asn1Signer(k521), []*x509.Certificate{leaf521}, testStatement(t), ErrAlgorithm},
		{"no chain", context.Background(), asn1Signer(k), nil, testStatement(t), ErrChain},
		{"invalid statement", context.Background(), asn1Signer(k), []*x509.Certificate{leaf}, bad, ErrStatement},
		{"nil statement", context.Background(), asn1Signer(k), []*x509.Certificate{leaf}, nil, ErrStatement},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out, err := Sign(tc.ctx, tc.signer, tc.chain, tc.stmt)
			if err == nil || out != "" {
				t.Fatalf("Sign = %q, %v; want an error", out, err)
			}
			if !errors.Is(err, tc.want) {
				t.Fatalf("err = %v, want %v", err, tc.want)
			}
		})
	}
}
