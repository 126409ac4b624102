package main

import (
	"crypto/x509"
	"encoding/pem"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/kiwistack/endpoint/server/ca"
	"github.com/kiwistack/endpoint/server/dev"
)

// TestIntermediateRequestAndMSPSign: the CLI steps before a
// rotate_intermediate: the tenant's CA makes the next key and its request,
// the MSP root signs it for the tenant; a directory without a root, a
// garbage request and another tenant's state are refused.
func TestIntermediateRequestAndMSPSign(t *testing.T) {
	mspDir, state := t.TempDir(), t.TempDir()
	msp, err := ca.LoadOrCreateMSP(mspDir, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ca.LoadOrCreatePKIUnder(dev.CAPath(state), "acme-corp", msp, time.Now()); err != nil {
		t.Fatal(err)
	}
	csrPEM, errOut, code := runAPI("intermediate", "request", "--state", state, "--tenant", "acme-corp")
	if code != 0 || !strings.HasPrefix(csrPEM, "-----BEGIN CERTIFICATE REQUEST-----") {
		t.Fatalf("request: exit %d: %s %s", code, csrPEM, errOut)
	}
	csrFile := filepath.Join(t.TempDir(), "next.csr")
	if err := os.WriteFile(csrFile, []byte(csrPEM), 0o600); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(t.TempDir(), "next.crt")
	msg, errOut, code := runAPI("msp", "sign-intermediate", "--msp", mspDir, "--tenant", "acme-corp", "--csr", csrFile, "--out", out)
	if code != 0 || !strings.Contains(msg, "Signed acme-corp Intermediate CA") {
		t.Fatalf("sign: exit %d: %s %s", code, msg, errOut)
	}
	data, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := pem.Decode(data)
	next, err := x509.ParseCertificate(b.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	if next.CheckSignatureFrom(msp.Root) != nil || next.Subject.Organization[0] != "acme-corp" || !next.IsCA {
		t.Errorf("signed intermediate %v", next.Subject)
	}
	e, err := ca.Open(dev.CAPath(state), "acme-corp", ca.WithMSP(msp))
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	if err := e.CheckRotation(next); err != nil {
		t.Errorf("the CA would not take the signed intermediate: %v", err)
	}

	for name, args := range map[string][]string{
		"no msp root":    {"msp", "sign-intermediate", "--msp", t.TempDir(), "--tenant", "acme-corp", "--csr", csrFile},
		"garbage csr":    {"msp", "sign-intermediate", "--msp", mspDir, "--tenant", "acme-corp", "--csr", out},
		"not a ca state": {"intermediate", "request", "--state", t.TempDir(), "--tenant", "acme-corp"},
	} {
		if o, e, code := runAPI(args...); code != 2 {
			t.Errorf("%s: exit %d, want 2: %s %s", name, code, o, e)
		}
	}
}
