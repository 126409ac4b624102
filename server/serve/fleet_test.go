package serve

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const fleetYAML = `fleet:
  url: https://fleet.acme.test
  enroll_secret_file: fleet-secret
  certificate_file: fleet-ca.pem
escrow_key_file: escrow.key
`

func TestParseConfigFleet(t *testing.T) {
	c, err := ParseConfig([]byte(minimal + fleetYAML))
	if err != nil {
		t.Fatal(err)
	}
	if f := c.Fleet; f == nil || f.URL != "https://fleet.acme.test" || f.EnrollSecretFile != "fleet-secret" ||
		f.CertificateFile != "fleet-ca.pem" || c.EscrowKeyFile != "escrow.key" {
		t.Fatalf("fleet = %+v, escrow %q", c.Fleet, c.EscrowKeyFile)
	}
	for name, tc := range map[string]struct{ yaml, want string }{
		"unknown key":    {"fleet:\n  url: https://f.test\n  enroll_secret_file: s\n  enroll_secret: x\n", "15:3: fleet.enroll_secret: unknown key"},
		"missing secret": {"fleet:\n  url: https://f.test\n", "fleet.enroll_secret_file: missing"},
		"missing url":    {"fleet:\n  enroll_secret_file: s\n", "fleet.url: missing"},
		"http":           {"fleet:\n  url: http://f.test\n  enroll_secret_file: s\n", "13:8: fleet.url"},
		"not a mapping":  {"fleet: https://f.test\n", "fleet"},
		"escrow number":  {"escrow_key_file: 7\n", "12:18: escrow_key_file: want a non-empty string"},
	} {
		_, err := ParseConfig([]byte(minimal + tc.yaml))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: err = %v, want one about %s", name, err, tc.want)
		}
	}
}

func TestFleetLoad(t *testing.T) {
	ca, err := os.ReadFile("../../agent/directory/testdata/ca.pem") // any CA certificate
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	cfgPath := filepath.Join(dir, "serve.yaml")
	for p, b := range map[string][]byte{cfgPath: []byte(minimal + fleetYAML), filepath.Join(dir, "fleet-secret"): []byte("s3cr3t-TEAM\n"),
		filepath.Join(dir, "fleet-ca.pem"): ca} {
		if err := os.WriteFile(p, b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	c, err := LoadConfig(cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	if c.Fleet.EnrollSecretFile != filepath.Join(dir, "fleet-secret") || c.EscrowKeyFile != filepath.Join(dir, "escrow.key") {
		t.Fatalf("paths not made absolute: %+v %q", c.Fleet, c.EscrowKeyFile)
	}
	pf, err := c.Fleet.Load()
	if err != nil {
		t.Fatal(err)
	}
	if pf.URL != "https://fleet.acme.test" || pf.EnrollSecret != "s3cr3t-TEAM" || pf.Certificate != string(ca) {
		t.Errorf("loaded %+v", pf)
	}
	// A secret others may read is refused with the chmod to run.
	if err := os.Chmod(filepath.Join(dir, "fleet-secret"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Fleet.Load(); err == nil || !strings.Contains(err.Error(), "chmod 600") {
		t.Errorf("0644 secret: %v", err)
	}
	if err := os.Chmod(filepath.Join(dir, "fleet-secret"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "fleet-secret"), []byte("two words\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Fleet.Load(); err == nil || !strings.Contains(err.Error(), "enroll secret") {
		t.Errorf("bad secret: %v", err)
	}
}
