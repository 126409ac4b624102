//go:build linux && cgo

package conformance

import (
	"crypto/x509"
	"encoding/pem"
	"os"
	"path/filepath"
	"testing"

	"github.com/go-piv/piv-go/v2/piv"

	"github.com/kiwistack/endpoint/test/pcsctest"
)

func readCert(t *testing.T, path string) *x509.Certificate {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	block, _ := pem.Decode(b)
	if block == nil {
		t.Fatalf("%s: no PEM", path)
	}
	c, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return c
}

// TestRealAttestationFixtures checks the recorded chains of real keys
// against Yubico's roots with piv.Verify, and that the test root does not
// accept them: the two trust domains stay apart.
func TestRealAttestationFixtures(t *testing.T) {
	dir := filepath.Join(pcsctest.FixturesDir(t), "attestation")
	tests := []struct {
		dir     string
		serial  uint32
		version piv.Version
	}{
		{"yk-5.4.3-23852774", 23852774, piv.Version{Major: 5, Minor: 4, Patch: 3}},
		{"yk-5.7.1-29173673", 29173673, piv.Version{Major: 5, Minor: 7, Patch: 1}},
	}
	testRoot, _ := pcsctest.AttestationRoot(t)
	for _, tt := range tests {
		t.Run(tt.dir, func(t *testing.T) {
			f9 := readCert(t, filepath.Join(dir, tt.dir, "intermediate-f9.pem"))
			att := readCert(t, filepath.Join(dir, tt.dir, "attestation-9a.pem"))
			a, err := piv.Verify(f9, att)
			if err != nil {
				t.Fatalf("piv.Verify rejects a real key's chain: %v", err)
			}
			// The fixtures README says PIN once and touch always, but both
			// recorded statements carry policy bytes 01 01: never, never.
			if a.Serial != tt.serial || a.Version != tt.version || a.Slot != piv.SlotAuthentication ||
				a.Formfactor != piv.FormfactorUSBCKeychain || a.PINPolicy != piv.PINPolicyNever || a.TouchPolicy != piv.TouchPolicyNever {
				t.Errorf("attestation %+v", a)
			}
			pool := x509.NewCertPool()
			pool.AddCert(testRoot)
			if _, err := (&piv.Verifier{Roots: pool}).Verify(readCert(t, filepath.Join(dir, tt.dir, "intermediate-f9.pem")), att); err == nil {
				t.Error("the test root accepts a real key's chain")
			}
		})
	}
}
