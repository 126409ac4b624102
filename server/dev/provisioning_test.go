package dev

import (
	"bytes"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/kiwistack/endpoint/enroll/protocol"
)

// TestProvisioningToken checks that the token is made once (0600), kept
// across restarts, printed as a path only, and accepted by
// /v1/admin-certificates.
func TestProvisioningToken(t *testing.T) {
	dir := t.TempDir()
	info, out, stop := start(t, dir)
	path := filepath.Join(dir, ProvisioningTokenFile)
	st, err := os.Stat(path)
	if err != nil || st.Mode().Perm() != 0o600 || info.ProvisioningTokenFile != path {
		t.Fatalf("token file %s: %v, mode %v, info %q", path, err, st.Mode().Perm(), info.ProvisioningTokenFile)
	}
	tok, _ := os.ReadFile(path)
	token := strings.TrimSpace(string(tok))
	if len(token) != 43 || strings.Contains(out, token) || !strings.Contains(out, "--provisioning-token-file "+path) {
		t.Errorf("token %d characters; output:\n%s", len(token), out)
	}
	post := func(auth string) (int, protocol.ErrorResponse) {
		req, _ := http.NewRequest(http.MethodPost, info.APIURL+"/v1/admin-certificates", bytes.NewReader([]byte(`{}`)))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", auth)
		resp, err := client(t, info).Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var er protocol.ErrorResponse
		_ = json.NewDecoder(resp.Body).Decode(&er)
		return resp.StatusCode, er
	}
	// The token passes authentication: the empty body is what fails.
	if code, er := post("Bearer " + token); code != http.StatusBadRequest || er.Reason != protocol.ReasonMalformed {
		t.Errorf("with the token: %d %+v", code, er)
	}
	if code, er := post("Bearer x"); code != http.StatusUnauthorized || er.Reason != "bad_provisioning_token" {
		t.Errorf("with another token: %d %+v", code, er)
	}
	stop()
	_, _, stop = start(t, dir)
	defer stop()
	if again, _ := os.ReadFile(path); !bytes.Equal(again, tok) {
		t.Error("the token changed across a restart")
	}
}

func TestAttestationRootFile(t *testing.T) {
	if _, err := attestationVerifier(filepath.Join(t.TempDir(), "missing.pem"), nil); err == nil {
		t.Error("a missing file was accepted")
	}
	empty := filepath.Join(t.TempDir(), "empty.pem")
	_ = os.WriteFile(empty, []byte("no PEM here"), 0o644)
	if _, err := attestationVerifier(empty, nil); err == nil {
		t.Error("a file without certificates was accepted")
	}
}
