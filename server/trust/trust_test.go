package trust

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"math/big"
	"strings"
	"testing"
	"time"

	"github.com/kiwistack/endpoint/enroll/protocol"
	"github.com/kiwistack/endpoint/server/store"
)

var roles = []string{"founder", "sysadmin", "office-mgr"}

// issue makes a certificate from tmpl signed by parent (self-signed when
// nil) with a fresh P-256 key, or with key when set.
func issue(t testing.TB, tmpl, parent *x509.Certificate, parentKey, key *ecdsa.PrivateKey) (*x509.Certificate, *ecdsa.PrivateKey) {
	t.Helper()
	if key == nil {
		var err error
		if key, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader); err != nil {
			t.Fatal(err)
		}
	}
	tmpl.SerialNumber = big.NewInt(time.Now().UnixNano())
	if tmpl.NotBefore.IsZero() {
		tmpl.NotBefore, tmpl.NotAfter = time.Now().Add(-time.Hour), time.Now().Add(24*time.Hour)
	}
	if parent == nil {
		parent, parentKey = tmpl, key
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, key.Public(), parentKey)
	if err != nil {
		t.Fatal(err)
	}
	c, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return c, key
}

func caTmpl(cn string) *x509.Certificate {
	return &x509.Certificate{Subject: pkix.Name{CommonName: cn}, IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}
}

func leafTmpl(o, ou string) *x509.Certificate {
	return &x509.Certificate{Subject: pkix.Name{CommonName: "Ada", Organization: []string{o}, OrganizationalUnit: []string{ou}},
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}
}

func pemOf(c *x509.Certificate) string {
	return string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Raw}))
}

func TestParsePEM(t *testing.T) {
	c, _ := issue(t, leafTmpl("acme", "founder"), nil, nil, nil)
	good := pemOf(c)
	tests := []struct {
		name, in string
		ok       bool
	}{
		{"one block", good, true},
		{"white space around", "\n\n" + good + "\n \n", true},
		{"empty", "", false},
		{"text before", "subject=Ada\n" + good, false},
		{"text after", good + "trailer\n", false},
		{"two blocks", good + good, false},
		{"a garbled block first", "-----BEGIN CERTIFICATE-----\n!!\n-----END CERTIFICATE-----\n" + good, false},
		{"a key", strings.ReplaceAll(good, "CERTIFICATE", "PRIVATE KEY"), false},
		{"headers", strings.Replace(good, "-----\n", "-----\nProc-Type: 4,ENCRYPTED\n\n", 1), false},
		{"not DER", "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n", false},
		{"too large", good + strings.Repeat(" ", MaxPEMSize), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParsePEM([]byte(tt.in))
			if tt.ok != (err == nil) {
				t.Fatalf("err = %v, want ok %v", err, tt.ok)
			}
			if err != nil && !errors.Is(err, ErrInvalid) {
				t.Errorf("err %v does not wrap ErrInvalid", err)
			}
			if err == nil && !got.Equal(c) {
				t.Error("another certificate")
			}
		})
	}
}

func TestClassify(t *testing.T) {
	now := time.Now()
	root, rootKey := issue(t, caTmpl("root"), nil, nil, nil)
	noSign := caTmpl("half")
	noSign.KeyUsage = x509.KeyUsageDigitalSignature
	half, _ := issue(t, noSign, nil, nil, nil)
	serverOnly := leafTmpl("acme", "founder")
	serverOnly.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}
	encipher := leafTmpl("acme", "founder")
	encipher.KeyUsage = x509.KeyUsageKeyEncipherment
	expired := leafTmpl("acme", "founder")
	expired.NotBefore, expired.NotAfter = now.Add(-48*time.Hour), now.Add(-time.Hour)
	noCN := leafTmpl("acme", "founder")
	noCN.Subject.CommonName = ""
	p384, err := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		tmpl *x509.Certificate
		key  *ecdsa.PrivateKey
		cert *x509.Certificate
		kind string
		err  error
	}{
		{name: "CA", cert: root, kind: store.TrustKindCA},
		{name: "CA without keyCertSign", cert: half, err: ErrInvalid},
		{name: "leaf", tmpl: leafTmpl("acme", "sysadmin"), kind: store.TrustKindCertificate},
		{name: "P-384 leaf", tmpl: leafTmpl("acme", "founder"), key: p384, kind: store.TrustKindCertificate},
		{name: "wrong O", tmpl: leafTmpl("globex", "founder"), err: ErrWrongOrganization},
		{name: "unknown OU", tmpl: leafTmpl("acme", "janitor"), err: ErrUnknownRole},
		{name: "server auth only", tmpl: serverOnly, err: ErrInvalid},
		{name: "no digitalSignature", tmpl: encipher, err: ErrInvalid},
		{name: "expired", tmpl: expired, err: ErrInvalid},
		{name: "no CN", tmpl: noCN, err: ErrInvalid},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := tt.cert
			if c == nil {
				c, _ = issue(t, tt.tmpl, root, rootKey, tt.key)
			}
			kind, err := Classify(c, "acme", roles, now)
			if tt.err != nil {
				if !errors.Is(err, tt.err) {
					t.Fatalf("err = %v, want %v", err, tt.err)
				}
				return
			}
			if err != nil || kind != tt.kind {
				t.Fatalf("kind %q, err %v; want %q", kind, err, tt.kind)
			}
		})
	}
}

func TestMatch(t *testing.T) {
	now := time.Now()
	root, rootKey := issue(t, caTmpl("root"), nil, nil, nil)
	fromRoot, fromRootKey := issue(t, leafTmpl("acme", "founder"), root, rootKey, nil)
	single, singleKey := issue(t, leafTmpl("acme", "sysadmin"), nil, nil, nil)
	child, childKey := issue(t, leafTmpl("acme", "founder"), single, singleKey, nil)
	caEntry, certEntry := Entry(root, store.TrustKindCA, "t", ""), Entry(single, store.TrustKindCertificate, "t", "")
	sign := func(c *x509.Certificate, k *ecdsa.PrivateKey) *protocol.Signed {
		t.Helper()
		st := protocol.Statement{Operation: "burn_key", Tenant: "acme", Timestamp: protocol.FormatTimestamp(now),
			YubiKeySerial: protocol.BYOCSerial(c.RawSubjectPublicKeyInfo), Nonce: "bm9uY2Vub25jZW5vbmNlbm9uY2U", Params: map[string]string{"serial": "1"}}
		var err error
		if st.Digest, err = st.CanonicalOperation().Digest(); err != nil {
			t.Fatal(err)
		}
		compact, err := protocol.Sign(context.Background(), protocol.SignerFrom(k), []*x509.Certificate{c}, &st)
		if err != nil {
			t.Fatal(err)
		}
		s, err := protocol.Parse(compact)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	tests := []struct {
		name    string
		signed  *protocol.Signed
		entries []store.TrustEntry
		want    string
	}{
		{"issued by a CA entry", sign(fromRoot, fromRootKey), []store.TrustEntry{certEntry, caEntry}, caEntry.ID},
		{"exactly a certificate entry", sign(single, singleKey), []store.TrustEntry{caEntry, certEntry}, certEntry.ID},
		{"issued by a certificate entry", sign(child, childKey), []store.TrustEntry{certEntry}, ""},
		{"CA entry removed", sign(fromRoot, fromRootKey), []store.TrustEntry{certEntry}, ""},
		{"empty list", sign(single, singleKey), nil, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, leaf, e, err := Match(tt.signed, tt.entries, now)
			if tt.want == "" {
				if !errors.Is(err, ErrNoMatch) || !errors.Is(err, protocol.ErrChain) {
					t.Fatalf("err = %v, want ErrNoMatch and protocol.ErrChain", err)
				}
				return
			}
			if err != nil || e.ID != tt.want || !leaf.Equal(tt.signed.Chain[0]) {
				t.Fatalf("entry %q, err %v; want %q", e.ID, err, tt.want)
			}
		})
	}
}
