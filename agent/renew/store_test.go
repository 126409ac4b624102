package renew

import (
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"math/big"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
)

// selfSigned returns a certificate for key ending at notAfter.
func selfSigned(t *testing.T, key *ecdsa.PrivateKey, notAfter time.Time) tls.Certificate {
	t.Helper()
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(notAfter.Unix()), Subject: pkix.Name{CommonName: "dev-1"},
		NotBefore: notAfter.Add(-time.Hour), NotAfter: notAfter}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		t.Fatal(err)
	}
	leaf, _ := x509.ParseCertificate(der)
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}
}

// TestWriteChainCrashPoints simulates a crash at each point of a write: the
// temporary file half written, or complete but not renamed. Only the target
// is ever read, so the old pair stays usable; after the rename the new one
// is read, and WriteChain leaves no temporary file of its own.
func TestWriteChainCrashPoints(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "device.crt")
	key := newKey(t)
	old := selfSigned(t, key, time.Now().Add(time.Hour))
	renewed := selfSigned(t, key, time.Now().Add(2*time.Hour))
	if err := WriteChain(path, old); err != nil {
		t.Fatal(err)
	}
	newPath := filepath.Join(t.TempDir(), "new.crt")
	if err := WriteChain(newPath, renewed); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(newPath)
	if err != nil {
		t.Fatal(err)
	}
	full := string(data)

	for _, crash := range []struct {
		name    string
		content string
	}{
		{"killed while writing the temporary file", full[:len(full)/2]},
		{"killed before the rename", full},
		{"killed after creating the temporary file", ""},
	} {
		t.Run(crash.name, func(t *testing.T) {
			tmp := filepath.Join(dir, ".device.crt.tmp-123456")
			if err := os.WriteFile(tmp, []byte(crash.content), 0o644); err != nil {
				t.Fatal(err)
			}
			defer os.Remove(tmp)
			got, err := LoadCertificate(path, key)
			if err != nil || !got.Leaf.Equal(old.Leaf) {
				t.Fatalf("after the crash: %v, want the old certificate", err)
			}
		})
	}

	if err := WriteChain(path, renewed); err != nil {
		t.Fatal(err)
	}
	got, err := LoadCertificate(path, key)
	if err != nil || !got.Leaf.Equal(renewed.Leaf) {
		t.Fatalf("after the rename: %v, want the new certificate", err)
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Errorf("directory holds %d entries, want only the certificate", len(entries))
	}
	if err := WriteChain(path, tls.Certificate{}); err == nil {
		t.Error("empty chain written")
	}
	if _, err := LoadCertificate(filepath.Join(dir, "missing"), key); err == nil {
		t.Error("missing file loaded")
	}
}

// TestWriteChainKill9 kills a process that rewrites the certificate in a
// loop at random moments (SIGKILL, no clean-up), then loads: always a whole
// chain, the old or the new.
func TestWriteChainKill9(t *testing.T) {
	if os.Getenv("RENEW_WRITE_LOOP") != "" {
		writeLoop(t)
		return
	}
	dir := t.TempDir()
	key := newKey(t)
	a := selfSigned(t, key, time.Now().Add(time.Hour))
	b := selfSigned(t, key, time.Now().Add(2*time.Hour))
	for i, c := range []tls.Certificate{a, b} {
		if err := WriteChain(filepath.Join(dir, []string{"a.crt", "b.crt"}[i]), c); err != nil {
			t.Fatal(err)
		}
	}
	path := filepath.Join(dir, "device.crt")
	if err := WriteChain(path, a); err != nil {
		t.Fatal(err)
	}
	for i := range 15 {
		cmd := exec.Command(os.Args[0], "-test.run=^TestWriteChainKill9$")
		cmd.Env = append(os.Environ(), "RENEW_WRITE_LOOP="+dir)
		ready := filepath.Join(dir, "ready")
		os.Remove(ready)
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		for start := time.Now(); ; time.Sleep(time.Millisecond) {
			if _, err := os.Stat(ready); err == nil {
				break
			}
			if time.Since(start) > 20*time.Second {
				t.Fatal("the writer never started")
			}
		}
		time.Sleep(time.Duration(i%5) * time.Millisecond) // kill mid-loop, at varying points
		if err := cmd.Process.Kill(); err != nil {
			t.Fatal(err)
		}
		_ = cmd.Wait()
		got, err := LoadCertificate(path, key)
		if err != nil {
			t.Fatalf("kill %d: %v", i, err)
		}
		if !got.Leaf.Equal(a.Leaf) && !got.Leaf.Equal(b.Leaf) {
			t.Fatalf("kill %d: an unknown certificate", i)
		}
	}
}

// writeLoop is the child of TestWriteChainKill9: it alternates the stored
// chain between a.crt and b.crt until killed.
func writeLoop(t *testing.T) {
	dir := os.Getenv("RENEW_WRITE_LOOP")
	var certs []tls.Certificate
	for _, f := range []string{"a.crt", "b.crt"} {
		data, err := os.ReadFile(filepath.Join(dir, f))
		if err != nil {
			t.Fatal(err)
		}
		chain, err := parsePEMCertificates(data)
		if err != nil {
			t.Fatal(err)
		}
		certs = append(certs, tls.Certificate{Certificate: [][]byte{chain[0].Raw}})
	}
	deadline := time.Now().Add(30 * time.Second) // never outlive a broken parent
	for i := 0; time.Now().Before(deadline); i++ {
		if err := WriteChain(filepath.Join(dir, "device.crt"), certs[i%2]); err != nil {
			t.Fatal(err)
		}
		if i == 0 {
			if err := os.WriteFile(filepath.Join(dir, "ready"), nil, 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
}
