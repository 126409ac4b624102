//go:build linux && cgo

package pivshim

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/json"
	"os/exec"
	"runtime"
	"testing"

	"github.com/kiwistack/endpoint/test/pcsctest"
)

// TestVirtualYubiKeyWithoutCgo plugs a virtual YubiKey into a vpcd slot
// (the harness needs cgo, so this test binary has it) and drives it with
// pivcheck built the way `make cross` builds: CGO_ENABLED=0, piv-go through
// the overlay shim and purego. It reads serial and version, verifies PIN
// 123456, generates a P-256 key in 9a and signs with it.
func TestVirtualYubiKeyWithoutCgo(t *testing.T) {
	key := pcsctest.Start(t, pcsctest.Options{Serial: 12345678, Version: "5.7.1"})
	bin := buildPivcheck(t, overlay(t), runtime.GOOS, runtime.GOARCH)
	checkBinary(t, bin, runtime.GOOS, runtime.GOARCH)

	var r struct {
		Readers   []string `json:"readers"`
		Serial    uint32   `json:"serial"`
		Version   string   `json:"version"`
		PublicKey []byte   `json:"public_key"`
		Digest    []byte   `json:"digest"`
		Signature []byte   `json:"signature"`
		Error     string   `json:"error"`
	}
	out, err := exec.Command(bin, "-reader", key.Reader, "-pin", "123456").Output()
	if jerr := json.Unmarshal(out, &r); jerr != nil {
		t.Fatalf("pivcheck -reader %q: %v (%v)\nstdout: %s\nstderr: %s", key.Reader, err, jerr, out, stderr(err))
	}
	if err != nil || r.Error != "" {
		t.Fatalf("pivcheck -reader %q: %v: %s", key.Reader, err, r.Error)
	}
	if r.Serial != key.Serial {
		t.Errorf("serial %d, want %d", r.Serial, key.Serial)
	}
	if r.Version != "5.7.1" {
		t.Errorf("version %q, want 5.7.1", r.Version)
	}
	pub, err := x509.ParsePKIXPublicKey(r.PublicKey)
	if err != nil {
		t.Fatalf("public key from 9a: %v", err)
	}
	ec, ok := pub.(*ecdsa.PublicKey)
	if !ok {
		t.Fatalf("public key from 9a is %T, want *ecdsa.PublicKey", pub)
	}
	digest := sha256.Sum256([]byte("kiwistack pivshim check"))
	if !bytes.Equal(r.Digest, digest[:]) {
		t.Fatalf("pivcheck signed digest %x, want %x", r.Digest, digest)
	}
	if !ecdsa.VerifyASN1(ec, digest[:], r.Signature) {
		t.Error("the signature from 9a does not verify with 9a's public key")
	}

	// A wrong PIN must come back as piv-go's AuthErr wording, proving APDU
	// status words cross the shim unchanged.
	out, _ = exec.Command(bin, "-reader", key.Reader, "-pin", "654321").Output()
	r.Error = ""
	if err := json.Unmarshal(out, &r); err != nil {
		t.Fatalf("pivcheck with a wrong pin: %v\n%s", err, out)
	}
	const want = "verifying pin: verify pin: smart card error 63c2: verification failed (2 retries remaining)"
	if r.Error != want {
		t.Errorf("pivcheck with a wrong pin: error %q, want %q", r.Error, want)
	}
}
