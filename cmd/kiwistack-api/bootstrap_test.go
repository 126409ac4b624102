package main

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/kiwistack/endpoint/enroll/protocol"
	"github.com/kiwistack/endpoint/server/bootstrap"
	"github.com/kiwistack/endpoint/server/ca"
	"github.com/kiwistack/endpoint/server/dev"
	"github.com/kiwistack/endpoint/server/store"
)

// bootstrapState creates a state directory with the tenant PKI and a store.
func bootstrapState(t *testing.T) (string, *ca.PKI) {
	t.Helper()
	state := t.TempDir()
	pki, err := ca.LoadOrCreatePKI(dev.CAPath(state), "acme-corp", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	st, err := store.Open(context.Background(), dev.DBPath(state))
	if err != nil {
		t.Fatal(err)
	}
	st.Close()
	return state, pki
}

func TestBootstrapCreateListRevoke(t *testing.T) {
	state, pki := bootstrapState(t)
	oemPath := filepath.Join(t.TempDir(), "bootstrap.yaml")
	out, errOut, code := runAPI("bootstrap", "create", "--state", state, "--serial", "PF3ABCDE", "--api", "https://api.acme.example",
		"--expires", "30d", "--out", oemPath)
	if code != 0 {
		t.Fatalf("create: exit %d: %s %s", code, out, errOut)
	}
	data, err := os.ReadFile(oemPath)
	if err != nil {
		t.Fatal(err)
	}
	if fi, _ := os.Stat(oemPath); fi.Mode().Perm() != 0o600 {
		t.Errorf("OEM file mode %v", fi.Mode())
	}
	f, err := protocol.ParseBootstrapFile(data)
	if err != nil {
		t.Fatalf("the OEM file does not parse: %v\n%s", err, data)
	}
	if f.Tenant != "acme-corp" || f.RootFingerprint != pki.Fingerprint() || f.API != "https://api.acme.example" || !strings.Contains(out, f.Token) {
		t.Fatalf("OEM file %+v; output %s", f, out)
	}
	// Printed instead of written.
	out2, _, code := runAPI("bootstrap", "create", "--state", state, "--serial", "SER2", "--api", "https://api.acme.example")
	if code != 0 || !strings.Contains(out2, "token: \"kst1_") {
		t.Fatalf("create without --out: exit %d: %s", code, out2)
	}

	out, _, code = runAPI("bootstrap", "list", "--state", state, "--json")
	var list []bootstrap.ListEntry
	if err := json.Unmarshal([]byte(out), &list); err != nil || code != 0 || len(list) != 2 {
		t.Fatalf("list: exit %d, %v: %s", code, err, out)
	}
	if list[0].HardwareSerial != "PF3ABCDE" || list[0].State != "outstanding" || list[0].Tenant != "acme-corp" ||
		list[0].ExpiresAt.Sub(list[0].CreatedAt) < 30*24*time.Hour-time.Second {
		t.Fatalf("list entry %+v", list[0])
	}
	if strings.Contains(out, strings.TrimPrefix(f.Token, protocol.BootstrapTokenPrefix)) {
		t.Fatal("list shows the token")
	}
	if out, errOut, code := runAPI("bootstrap", "revoke", "--state", state, list[0].ID); code != 0 || !strings.Contains(out, "revoked") {
		t.Fatalf("revoke: exit %d: %s %s", code, out, errOut)
	}
	if _, errOut, code := runAPI("bootstrap", "revoke", "--state", state, list[0].ID); code == 0 || !strings.Contains(errOut, "revoked") {
		t.Fatalf("revoke twice: exit %d: %s", code, errOut)
	}
	if _, _, code := runAPI("bootstrap", "revoke", "--state", state, "000000000000"); code != 3 {
		t.Fatalf("revoke unknown: exit %d, want 3", code)
	}
	out, _, _ = runAPI("bootstrap", "list", "--state", state)
	if !strings.Contains(out, list[0].ID) || !strings.Contains(out, "revoked") || !strings.Contains(out, "outstanding") {
		t.Fatalf("table: %s", out)
	}
	// Every creation and revocation is in the audit log.
	st, err := store.Open(context.Background(), dev.DBPath(state))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	entries, err := st.AuditEntries(context.Background(), 0, 10)
	if err != nil || len(entries) != 3 || entries[0].Operation != bootstrap.AuditOperationCreate || entries[2].Operation != bootstrap.AuditOperationRevoke ||
		entries[2].Actor != 0 {
		t.Fatalf("audit %+v, %v", entries, err)
	}
}

func TestBootstrapCreateUsage(t *testing.T) {
	state, _ := bootstrapState(t)
	for _, tc := range []struct {
		name string
		args []string
		code int
		want string
	}{
		{"bad expiry", []string{"--serial", "S", "--api", "https://a.example", "--expires", "soon"}, 2, "--expires"},
		{"too long", []string{"--serial", "S", "--api", "https://a.example", "--expires", "400d"}, 2, "--expires"},
		{"http api", []string{"--serial", "S", "--api", "http://a.example"}, 1, "--api"},
		{"bad serial", []string{"--serial", " S", "--api", "https://a.example"}, 1, "hardware_serial"},
		{"no state", []string{"--serial", "S", "--api", "https://a.example", "--state", t.TempDir()}, 1, "tenant PKI"},
	} {
		args := append([]string{"bootstrap", "create", "--state", state}, tc.args...)
		if _, errOut, code := runAPI(args...); code != tc.code || !strings.Contains(errOut, tc.want) {
			t.Errorf("%s: exit %d, %q; want %d and %q", tc.name, code, errOut, tc.code, tc.want)
		}
	}
}
