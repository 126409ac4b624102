package main

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"fmt"
	"math/big"
	"strings"
	"testing"
	"time"

	"github.com/kiwistack/endpoint/enroll/protocol"
	"github.com/kiwistack/endpoint/server/ca"
	"github.com/kiwistack/endpoint/server/dev"
	"github.com/kiwistack/endpoint/server/roster"
	"github.com/kiwistack/endpoint/server/store"
)

// byocCert issues a certificate from parent (self-signed when parent is
// nil) and returns it as a PEM file and the certificate.
func byocCert(t *testing.T, parent *x509.Certificate, parentKey *ecdsa.PrivateKey, tmpl *x509.Certificate) (string, *x509.Certificate, *ecdsa.PrivateKey) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl.SerialNumber = big.NewInt(time.Now().UnixNano())
	tmpl.NotBefore, tmpl.NotAfter = time.Now().Add(-time.Hour), time.Now().Add(24*time.Hour)
	if parent == nil {
		parent, parentKey = tmpl, key
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, key.Public(), parentKey)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return writeFile(t, fmt.Sprintf("cert-%d.pem", tmpl.SerialNumber), string(ca.PEM(cert))), cert, key
}

func TestTrustAddListRemove(t *testing.T) {
	state := t.TempDir()
	pki, err := ca.LoadOrCreatePKI(dev.CAPath(state), "acme-corp", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	org := pki.Intermediate.Subject.Organization
	caFile, root, rootKey := byocCert(t, nil, nil, &x509.Certificate{Subject: pkix.Name{CommonName: "Corp root"},
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign})
	leafTmpl := func(o []string, ou string) *x509.Certificate {
		return &x509.Certificate{Subject: pkix.Name{CommonName: "Marie Schmidt", Organization: o, OrganizationalUnit: []string{ou}},
			KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}
	}
	leafFile, leaf, _ := byocCert(t, root, rootKey, leafTmpl(org, "founder"))
	serial := protocol.BYOCSerial(leaf.RawSubjectPublicKeyInfo)

	out, errOut, code := runAPI("trust", "add", "--state", state, leafFile, "--note", "ticket 42")
	if code != 0 || !strings.Contains(out, fmt.Sprintf("certificate of Marie Schmidt (founder), signs as serial %d", serial)) {
		t.Fatalf("add certificate: exit %d: %s %s", code, out, errOut)
	}
	if out, errOut, code := runAPI("trust", "add", "--state", state, caFile); code != 0 || !strings.Contains(out, "CA CN=Corp root") {
		t.Fatalf("add CA: exit %d: %s %s", code, out, errOut)
	}
	wrongO, _, _ := byocCert(t, root, rootKey, leafTmpl([]string{"globex"}, "founder"))
	unknownOU, _, _ := byocCert(t, root, rootKey, leafTmpl(org, "janitor"))
	noCertSign, _, _ := byocCert(t, nil, nil, &x509.Certificate{Subject: pkix.Name{CommonName: "Half CA"}, IsCA: true,
		BasicConstraintsValid: true, KeyUsage: x509.KeyUsageDigitalSignature})
	refusals := []struct{ name, file, want string }{
		{"wrong O", wrongO, "another organization"},
		{"unknown OU", unknownOU, "not a policy role"},
		{"CA without keyCertSign", noCertSign, "keyCertSign"},
		{"two blocks", writeFile(t, "two.pem", string(ca.PEM(leaf))+string(ca.PEM(root))), "exactly one PEM block"},
		{"duplicate", leafFile, "already trusted"},
	}
	for _, tt := range refusals {
		out, errOut, code := runAPI("trust", "add", "--state", state, tt.file)
		if code != 1 || !strings.Contains(errOut, tt.want) || strings.Contains(out, "added") {
			t.Errorf("%s: exit %d, out %q, err %q; want exit 1 and %q", tt.name, code, out, errOut, tt.want)
		}
	}

	out, errOut, code = runAPI("trust", "list", "--state", state, "--json")
	if code != 0 {
		t.Fatalf("list: exit %d: %s", code, errOut)
	}
	var list []roster.TrustListEntry
	if err := json.Unmarshal([]byte(out), &list); err != nil {
		t.Fatalf("list --json: %v: %s", err, out)
	}
	if len(list) != 2 || list[0].Kind != store.TrustKindCertificate || list[0].Note != "ticket 42" || list[1].Kind != store.TrustKindCA {
		t.Fatalf("list = %+v", list)
	}
	if out, _, code := runAPI("trust", "list", "--state", state); code != 0 || !strings.Contains(out, list[0].ID) || !strings.Contains(out, "ticket 42") {
		t.Errorf("list table: exit %d: %s", code, out)
	}

	if out, errOut, code := runAPI("trust", "remove", "--state", state, list[0].ID); code != 0 || !strings.Contains(out, fmt.Sprintf("removed %s; burned signers [%d]", list[0].ID, serial)) {
		t.Fatalf("remove: exit %d: %s %s", code, out, errOut)
	}
	if _, _, code := runAPI("trust", "remove", "--state", state, list[0].ID); code != 3 {
		t.Errorf("remove of an unknown id: exit %d, want 3", code)
	}
	if _, errOut, code := runAPI("trust", "add", "--state", state, leafFile); code != 1 || !strings.Contains(errOut, "stays burned") {
		t.Errorf("re-adding a removed certificate: exit %d: %s", code, errOut)
	}

	st, err := store.Open(context.Background(), dev.DBPath(state))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if r, err := st.RosterEntry(context.Background(), serial); err != nil || !r.Burned || r.Role != "founder" {
		t.Errorf("roster row of the removed certificate: %+v, %v", r, err)
	}
	entries, err := st.AuditEntries(context.Background(), 0, 100)
	if err != nil {
		t.Fatal(err)
	}
	var ops []string
	for _, e := range entries {
		ops = append(ops, e.Operation)
	}
	if got := strings.Join(ops, ","); got != "trust_add,trust_add,trust_remove" {
		t.Errorf("audit operations %s", got)
	}
}
