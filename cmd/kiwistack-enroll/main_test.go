package main

import (
	"bytes"
	"context"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"

	"github.com/kiwistack/endpoint/enroll/keysjson"
	"github.com/kiwistack/endpoint/internal/cli"
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
