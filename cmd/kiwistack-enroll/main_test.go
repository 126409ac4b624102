package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/kiwistack/endpoint/enroll/keysjson"
	"github.com/kiwistack/endpoint/internal/cli"
	"github.com/kiwistack/endpoint/platform/hwid"
	"github.com/kiwistack/endpoint/platform/paths"
)

func runArgs(args ...string) (string, string, int) {
	var out, errb bytes.Buffer
	code := run(context.Background(), cli.IO{In: strings.NewReader(""), Out: &out, Err: &errb}, args)
	return out.String(), errb.String(), code
}

func TestVersion(t *testing.T) {
	out, _, code := runArgs("--version")
	if code != 0 || !strings.HasPrefix(out, "kiwistack-enroll ") || !strings.Contains(out, "commit") {
		t.Errorf("--version: exit %d, %q", code, out)
	}
}

func TestVerifyAttestationRealKeys(t *testing.T) {
	fx := filepath.Join("..", "..", "..", "shared", "fixtures", "yubikey", "attestation")
	f9 := filepath.Join(fx, "yk-5.7.1-29173673", "intermediate-f9.pem")
	stmt := filepath.Join(fx, "yk-5.7.1-29173673", "attestation-9a.pem")
	other := filepath.Join(fx, "yk-5.4.3-23852774", "intermediate-f9.pem")

	out, errOut, code := runArgs("keys", "verify-attestation", f9, stmt)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	for _, want := range []string{"29173673", "5.7.1", "USB-C keychain", "Yubico PIV Root CA Serial 263751", "9a"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	out, _, code = runArgs("keys", "verify-attestation", "--json", f9, stmt)
	var a keysjson.Attestation
	if code != 0 || json.Unmarshal([]byte(out), &a) != nil || !a.Verified || a.Serial != 29173673 || a.Schema != keysjson.SchemaAttestation {
		t.Errorf("--json: exit %d, %s", code, out)
	}
	_, errOut, code = runArgs("keys", "verify-attestation", other, stmt)
	if code != cli.ExitDenied || !strings.Contains(errOut, "does not verify") {
		t.Errorf("mixed pair: exit %d, %s", code, errOut)
	}
	_, errOut, code = runArgs("keys", "verify-attestation", "--root", stmt, f9, stmt)
	if code == 0 {
		t.Errorf("with a non-root bundle: exit 0, %s", errOut)
	}
}

func TestFingerprint(t *testing.T) {
	out, errOut, code := runArgs("fingerprint", "--json")
	want, err := hwid.Read(context.Background())
	if err != nil {
		if code != cli.ExitNotFound || !strings.Contains(errOut, "--hardware-fingerprint") {
			t.Errorf("no identity here: exit %d, want %d with the override named: %s", code, cli.ExitNotFound, errOut)
		}
		return
	}
	var got fingerprintJSON
	if code != 0 || json.Unmarshal([]byte(out), &got) != nil {
		t.Fatalf("exit %d: %s %s", code, out, errOut)
	}
	if got.Fingerprint != want.Value || len(got.Sources) != len(want.Sources) {
		t.Errorf("fingerprint %+v, want %s", got, want.Value)
	}
	for _, s := range want.Sources {
		if strings.Contains(out, s.Value) {
			t.Errorf("the output reveals the value of %s", s.Name)
		}
	}
}

func TestEnrollUsageErrors(t *testing.T) {
	fp := strings.Repeat("ab", 32)
	root := t.TempDir()
	for name, args := range map[string][]string{
		"no api":          {"enroll", "--tenant", "acme-corp", "--root-fingerprint", fp, "--root", root},
		"http api":        {"enroll", "--api", "http://a.example", "--tenant", "acme-corp", "--root-fingerprint", fp, "--root", root},
		"bad fingerprint": {"enroll", "--api", "https://a.example", "--tenant", "acme-corp", "--root-fingerprint", "abc", "--root", root},
		"missing config":  {"enroll", "--config", filepath.Join(root, "nope.yaml"), "--root", root},
		"bad serial":      {"enroll", "--api", "https://a.example", "--tenant", "acme-corp", "--root-fingerprint", fp, "--serial", "x", "--root", root},
	} {
		t.Run(name, func(t *testing.T) {
			_, errOut, code := runArgs(args...)
			if code != cli.ExitUsage || errOut == "" {
				t.Errorf("exit %d, want %d: %s", code, cli.ExitUsage, errOut)
			}
		})
	}
	// The configuration file the installer ships fills in what flags leave out.
	cfg := paths.Under(root).EnrollConfig()
	if err := os.MkdirAll(filepath.Dir(cfg), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(cfg, []byte("api: http://not-https.example\ntenant: acme-corp\nroot_fingerprint: "+fp+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, errOut, code := runArgs("enroll", "--root", root)
	if code != cli.ExitUsage || !strings.Contains(errOut, "http://not-https.example") {
		t.Errorf("config under --root not read: exit %d: %s", code, errOut)
	}
}
