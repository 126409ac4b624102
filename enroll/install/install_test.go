package install

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"io/fs"
	"strings"
	"testing"
	"time"

	"github.com/kiwistack/endpoint/agent/wgkey"
	"github.com/kiwistack/endpoint/enroll/protocol"
	"github.com/kiwistack/endpoint/platform/paths"
)

func TestReadNotEnrolled(t *testing.T) {
	if _, err := Read(paths.Under(t.TempDir())); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("err = %v, want fs.ErrNotExist", err)
	}
}

// TestCheckRefuses covers the refusals that need no PKI; the enroller's
// tests and agent/claim's (against a real tenant) cover the rest.
func TestCheckRefuses(t *testing.T) {
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	good := protocol.EnrollResponse{DeviceID: "d-1", Config: protocol.AgentConfig{DeviceID: "d-1", Tenant: "acme"}, Root: "x", Certificate: "y"}
	for name, mut := range map[string]func(*protocol.EnrollResponse){
		"device id":  func(r *protocol.EnrollResponse) { r.DeviceID = "d-2" },
		"config id":  func(r *protocol.EnrollResponse) { r.Config.DeviceID = "d-2" },
		"tenant":     func(r *protocol.EnrollResponse) { r.Config.Tenant = "globex" },
		"root":       func(*protocol.EnrollResponse) {},
		"empty root": func(r *protocol.EnrollResponse) { r.Root = "" },
	} {
		r := good
		mut(&r)
		if _, _, _, err := Check(&r, "acme", strings.Repeat("0", 64), "d-1", key, time.Now()); err == nil || !strings.Contains(err.Error(), "nothing was installed") {
			t.Errorf("%s: err = %v", name, err)
		}
	}
}

func TestNewIdentity(t *testing.T) {
	id, err := NewIdentity(rand.Reader, "acme-corp")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := pem.Decode([]byte(id.CSR))
	csr, err := x509.ParseCertificateRequest(b.Bytes)
	if err != nil || csr.CheckSignature() != nil {
		t.Fatalf("CSR: %v", err)
	}
	if got := protocol.DeviceKeyHash(csr.RawSubjectPublicKeyInfo); got != id.KeySHA256 || protocol.DeviceID(got) != id.DeviceID {
		t.Errorf("key hash %s / id %s do not match the CSR's key", id.KeySHA256, id.DeviceID)
	}
	wgURI, _ := protocol.WireGuardURI(id.WireGuard.PublicKey)
	if len(csr.URIs) != 2 || csr.URIs[0].String() != protocol.DeviceURI("acme-corp", id.DeviceID).String() || csr.URIs[1].String() != wgURI {
		t.Errorf("CSR URIs %v", csr.URIs)
	}
	if len(csr.DNSNames)+len(csr.IPAddresses)+len(csr.EmailAddresses) != 0 || csr.Subject.CommonName != "" {
		t.Errorf("CSR carries other names: %+v", csr)
	}
	again, err := wgkey.Derive(id.Key, "acme-corp", id.DeviceID)
	if err != nil || again.PublicKey != id.WireGuard.PublicKey {
		t.Errorf("WireGuard key is not the derivation from the device key: %v", err)
	}
}
