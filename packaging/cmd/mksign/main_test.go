package main

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/kiwistack/endpoint/packaging"
	"github.com/kiwistack/endpoint/packaging/sign"
)

// TestDevKeyAndSignDir: the development key is made once (0600) and
// reused; every artefact and SHA256SUMS get a signature that verifies with
// the public key written into dist/ and into the -pub file.
func TestDevKeyAndSignDir(t *testing.T) {
	tmp := t.TempDir()
	dev, dist := filepath.Join(tmp, "dev"), filepath.Join(tmp, "dist")
	if err := os.MkdirAll(dist, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, n := range []string{"kiwistack_1_amd64.deb", "kiwistack-1-amd64.msi", "stale.deb.minisig"} {
		if err := os.WriteFile(filepath.Join(dist, n), []byte(n), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	pubFile := filepath.Join(tmp, "out", "release.pub")
	if err := run("", dev, pubFile, ""); err != nil {
		t.Fatal(err)
	}
	st, err := os.Stat(filepath.Join(dev, devKeyName))
	if err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("development key: %v, mode %v", err, st.Mode())
	}
	if err := run("", dev, "", dist); err != nil {
		t.Fatal(err)
	}
	line, _ := os.ReadFile(pubFile)
	pub, err := sign.ParsePublicKey(line)
	if err != nil {
		t.Fatal(err)
	}
	inDist, _ := os.ReadFile(filepath.Join(dist, PubName))
	if p, err := sign.ParsePublicKey(inDist); err != nil || p.String() != pub.String() {
		t.Fatalf("dist/%s differs from the -pub file (key reused?): %v", PubName, err)
	}
	if _, err := os.Stat(filepath.Join(dist, "stale.deb.minisig")); err == nil {
		t.Error("a stale signature was kept")
	}
	for _, n := range []string{"kiwistack_1_amd64.deb", "kiwistack-1-amd64.msi", packaging.SumsName} {
		p := filepath.Join(dist, n)
		if _, err := sign.VerifyFile(pub, p, p+sign.Suffix); err != nil {
			t.Errorf("%s: %v", n, err)
		}
	}
}
