//go:build linux && cgo

package conformance

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/x509"
	"encoding/pem"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/go-piv/piv-go/v2/piv"

	"github.com/kiwistack/endpoint/test/pcsctest"
)

// run runs a command and returns its combined output, failing the test on
// a non-zero exit.
func run(t *testing.T, name string, args ...string) string {
	t.Helper()
	out, err := exec.Command(name, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return string(out)
}

// TestYubicoPIVTool drives Debian's yubico-piv-tool 2.2.0 (which knows
// only 3DES management keys) against a 5.4.3-style key, selecting the
// reader by a substring of its name as users do.
func TestYubicoPIVTool(t *testing.T) {
	if _, err := exec.LookPath("yubico-piv-tool"); err != nil {
		pcsctest.Require(t)
		t.Fatalf("yubico-piv-tool missing: run scripts/install-test-deps: %v", err)
	}
	k := pcsctest.Start(t, pcsctest.Options{Version: "5.4.3", Serial: 23852774})
	dir := t.TempDir()
	r := k.Reader
	ypt := func(args ...string) string {
		t.Helper()
		return run(t, "yubico-piv-tool", append([]string{"-r", r}, args...)...)
	}

	t.Run("status", func(t *testing.T) {
		out := ypt("-a", "status")
		for _, want := range []string{"Version:\t5.4.3", "Serial Number:\t23852774", "PIN tries left:\t3"} {
			if !strings.Contains(out, want) {
				t.Errorf("status output lacks %q:\n%s", want, out)
			}
		}
	})
	t.Run("verify-pin", func(t *testing.T) {
		if out := ypt("-a", "verify-pin", "-P", "123456"); !strings.Contains(out, "Successfully verified PIN") {
			t.Errorf("verify-pin: %s", out)
		}
		out, err := exec.Command("yubico-piv-tool", "-r", r, "-a", "verify-pin", "-P", "000000").CombinedOutput()
		if err == nil || !strings.Contains(string(out), "2 tries left") {
			t.Errorf("verify-pin with a wrong PIN: err %v, output %s; want a failure with 2 tries left", err, out)
		}
		ypt("-a", "verify-pin", "-P", "123456") // back to 3 tries
	})
	pubPath := filepath.Join(dir, "pub.pem")
	var pub *ecdsa.PublicKey
	t.Run("generate", func(t *testing.T) {
		if out := ypt("-s", "9a", "-a", "generate", "-A", "ECCP256", "--pin-policy=once", "--touch-policy=never", "-o", pubPath); !strings.Contains(out, "Successfully generated") {
			t.Errorf("generate: %s", out)
		}
		b, err := os.ReadFile(pubPath)
		if err != nil {
			t.Fatal(err)
		}
		block, _ := pem.Decode(b)
		if block == nil {
			t.Fatalf("generate wrote no PEM: %q", b)
		}
		key, err := x509.ParsePKIXPublicKey(block.Bytes)
		if err != nil {
			t.Fatal(err)
		}
		pub = key.(*ecdsa.PublicKey)
	})
	if pub == nil {
		t.Fatal("no key generated")
	}
	certPath := filepath.Join(dir, "cert.pem")
	cert := testCert(t, pub, "alice")
	if err := os.WriteFile(certPath, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: cert.Raw}), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Run("import-certificate", func(t *testing.T) {
		if out := ypt("-s", "9a", "-a", "import-certificate", "-i", certPath); !strings.Contains(out, "Successfully imported") {
			t.Errorf("import-certificate: %s", out)
		}
	})
	t.Run("read-certificate", func(t *testing.T) {
		out := ypt("-s", "9a", "-a", "read-certificate")
		block, _ := pem.Decode([]byte(out))
		if block == nil || !bytes.Equal(block.Bytes, cert.Raw) {
			t.Errorf("read-certificate returned %q, want the imported certificate", out)
		}
	})
	t.Run("attest", func(t *testing.T) {
		out := ypt("-s", "9a", "-a", "attest")
		block, _ := pem.Decode([]byte(out))
		if block == nil {
			t.Fatalf("attest printed no certificate: %s", out)
		}
		att, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			t.Fatal(err)
		}
		f9PEM := ypt("-s", "f9", "-a", "read-certificate")
		fb, _ := pem.Decode([]byte(f9PEM))
		if fb == nil {
			t.Fatalf("read-certificate f9: %s", f9PEM)
		}
		f9, err := x509.ParseCertificate(fb.Bytes)
		if err != nil {
			t.Fatal(err)
		}
		pool := x509.NewCertPool()
		pool.AddCert(k.Root)
		a, err := (&piv.Verifier{Roots: pool}).Verify(f9, att)
		if err != nil {
			t.Fatalf("attestation from yubico-piv-tool does not verify: %v", err)
		}
		if a.Serial != 23852774 || a.PINPolicy != piv.PINPolicyOnce || a.TouchPolicy != piv.TouchPolicyNever || !att.PublicKey.(*ecdsa.PublicKey).Equal(pub) {
			t.Errorf("attestation %+v does not describe the generated key", a)
		}
	})
	t.Run("opensc", func(t *testing.T) {
		if out := run(t, "opensc-tool", "--reader", r, "--atr"); !strings.Contains(out, "3b:fd:13:00:00:81:31:fe:15:80:73:c0:21:c0:57:59:75:62:69:4b:65:79:40") {
			t.Errorf("opensc-tool --atr: %s", out)
		}
		if out := run(t, "opensc-tool", "--reader", r, "--name"); !strings.Contains(out, "Personal Identity Verification Card") {
			t.Errorf("OpenSC does not take it for a PIV card: %s", out)
		}
		out := run(t, "pkcs15-tool", "--reader", r, "--list-certificates")
		if !strings.Contains(out, "Certificate for PIV Authentication") || !strings.Contains(out, "Encoded serial : 02 01 2A") {
			t.Errorf("pkcs15-tool --list-certificates does not list the 9a certificate (serial 42):\n%s", out)
		}
	})
	t.Run("change-pin", func(t *testing.T) {
		if out := ypt("-a", "change-pin", "-P", "123456", "-N", "24682468"); !strings.Contains(out, "Successfully changed the pin code") {
			t.Errorf("change-pin: %s", out)
		}
		if out := ypt("-a", "verify-pin", "-P", "24682468"); !strings.Contains(out, "Successfully verified PIN") {
			t.Errorf("verify-pin with the new PIN: %s", out)
		}
	})
}
