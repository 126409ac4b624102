package mobileconfig

import (
	"bytes"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"testing"

	"howett.net/plist"

	"github.com/kiwistack/endpoint/launchers/internal/realtool"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

func escrowCert(t *testing.T) *x509.Certificate {
	t.Helper()
	b, err := os.ReadFile("testdata/escrow.pem")
	if err != nil {
		t.Fatal(err)
	}
	blk, _ := pem.Decode(b)
	c, err := x509.ParseCertificate(blk.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// TestFileVaultEscrow renders the FileVault escrow profile, compares it
// with the golden file and reads it back through plistutil: four payloads,
// the escrow payload pointing at the certificate payload's UUID.
func TestFileVaultEscrow(t *testing.T) {
	cert := escrowCert(t)
	f := FileVaultEscrow{Identifier: "io.kiwistack.acme.filevault", Organization: "Acme", Location: "Acme IT (KiwiStack, Fleet)", Certificate: cert}
	b, err := f.Render()
	if err != nil {
		t.Fatal(err)
	}
	golden := filepath.Join("testdata", "filevault.golden")
	if *update {
		if err := os.WriteFile(golden, b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(b, want) {
		t.Errorf("render differs from %s (go test -update to accept):\n%s", golden, b)
	}
	var p struct {
		Scope   string           `plist:"PayloadScope"`
		Content []map[string]any `plist:"PayloadContent"`
	}
	if _, err := plist.Unmarshal(realtool.PlistRoundTrip(t, b), &p); err != nil {
		t.Fatal(err)
	}
	if p.Scope != "System" || len(p.Content) != 4 {
		t.Fatalf("profile %+v", p)
	}
	types := map[string]map[string]any{}
	for _, pl := range p.Content {
		types[pl["PayloadType"].(string)] = pl
	}
	esc, c := types[FDERecoveryKeyEscrowPayloadType], types[PKCS1PayloadType]
	if esc == nil || c == nil || esc["EncryptCertPayloadUUID"] != c["PayloadUUID"] || esc["Location"] != f.Location {
		t.Errorf("escrow payload %v, certificate payload %v", esc, c)
	}
	if der, _ := c["PayloadContent"].([]byte); !bytes.Equal(der, cert.Raw) {
		t.Error("the certificate payload does not hold the escrow certificate")
	}
	if fv := types[FileVault2PayloadType]; fv["Enable"] != "On" || fv["ShowRecoveryKey"] != false || fv["UseRecoveryKey"] != true {
		t.Errorf("FileVault payload %v", fv)
	}
	if m := types[MCXPayloadType]; m["dontAllowFDEDisable"] != true {
		t.Errorf("MCX payload %v", m)
	}
	for _, bad := range []FileVaultEscrow{
		{Identifier: "nope", Organization: "A", Location: "L", Certificate: cert},
		{Identifier: "io.a.b", Organization: "A", Location: "L\n", Certificate: cert},
		{Identifier: "io.a.b", Organization: "A", Location: "L"},
	} {
		if _, err := bad.Render(); !errors.Is(err, ErrInvalid) {
			t.Errorf("%+v: %v", bad, err)
		}
	}
}
