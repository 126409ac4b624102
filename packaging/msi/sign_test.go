package msi

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// TestSignEncryptedKey signs with a password-protected key, as a release
// certificate usually is, and checks that a wrong password fails.
func TestSignEncryptedKey(t *testing.T) {
	requireTools(t, "osslsigncode=osslsigncode", "openssl=openssl")
	s, ca := testSigner(t)
	dir := t.TempDir()
	enc := filepath.Join(dir, "encrypted.key")
	if out, err := exec.Command("openssl", "pkcs8", "-topk8", "-v2", "aes-256-cbc", "-in", s.Key,
		"-out", enc, "-passout", "pass:correct horse").CombinedOutput(); err != nil {
		t.Fatalf("openssl pkcs8: %v\n%s", err, out)
	}
	s.Key, s.KeyPassword = enc, "correct horse"
	in := filepath.Join(windowsBinaries(t), AgentName)
	out := filepath.Join(dir, "signed.exe")
	if err := s.Sign(in, out); err != nil {
		t.Fatal(err)
	}
	if err := Verify(out, ca); err != nil {
		t.Fatal(err)
	}
	s.KeyPassword = "wrong"
	bad := filepath.Join(dir, "bad.exe")
	if err := s.Sign(in, bad); err == nil {
		t.Error("signing with a wrong key password succeeded")
	}
	if _, err := os.Stat(bad); err == nil {
		t.Error("a failed signature left its output behind")
	}
}
