package packaging

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// TestWriteSums checks the file with sha256sum(1) itself.
func TestWriteSums(t *testing.T) {
	dir := t.TempDir()
	for name, body := range map[string]string{"b.deb": "bee", "a.deb": "ay", SumsName: "stale", "a.deb.minisig": "signature"} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := WriteSums(dir); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(dir, SumsName))
	if err != nil {
		t.Fatal(err)
	}
	want := "69d61997a241e97931db9dd1cfcef218041a752485f5f7956b09766287682da3  a.deb\n" +
		"62cb81b5904a262ffaeed02abef36bfc540b09f964b8b0b636662f77ffce6714  b.deb\n"
	if string(b) != want {
		t.Errorf("SHA256SUMS = %q, want %q", b, want)
	}
	sha, err := exec.LookPath("sha256sum")
	if err != nil {
		t.Skip("sha256sum (coreutils) is not installed")
	}
	cmd := exec.Command(sha, "--strict", "-c", SumsName)
	cmd.Dir = dir
	if out, err := cmd.CombinedOutput(); err != nil || string(out) != "a.deb: OK\nb.deb: OK\n" {
		t.Errorf("sha256sum -c: %v\n%s", err, out)
	}
}
