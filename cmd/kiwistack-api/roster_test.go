package main

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/json"
	"math/big"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/kiwistack/endpoint/server/ca"
	"github.com/kiwistack/endpoint/server/dev"
	"github.com/kiwistack/endpoint/server/roster"
)

// adminEntry issues a slot 9a-like certificate (CN admin, OU role, O tenant)
// from pki's intermediate and returns its roster entry.
func adminEntry(t *testing.T, pki *ca.PKI, serial uint32, admin, role string) roster.Entry {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(int64(serial)),
		Subject:      pkix.Name{CommonName: admin, OrganizationalUnit: []string{role}, Organization: pki.Intermediate.Subject.Organization},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, pki.Intermediate, key.Public(), pki.IntermediateKey)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(cert.RawSubjectPublicKeyInfo)
	return roster.Entry{
		Serial: serial, Admin: admin, Role: role, PublicKeySHA256: hex.EncodeToString(sum[:]),
		Certificate: string(ca.PEM(cert)),
		Attestation: roster.Attestation{Firmware: "5.7.1", PINPolicy: "always", TouchPolicy: "always"},
	}
}

func rosterFile(t *testing.T, entries ...roster.Entry) string {
	t.Helper()
	b, err := yaml.Marshal(map[string][]roster.Entry{"roster": entries})
	if err != nil {
		t.Fatal(err)
	}
	return writeFile(t, "roster.yaml", string(b))
}

func TestRosterAddBurnList(t *testing.T) {
	state := t.TempDir()
	pki, err := ca.LoadOrCreatePKI(dev.CAPath(state), "acme-corp", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	other, err := ca.LoadOrCreatePKI(t.TempDir(), "acme-corp", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	good := adminEntry(t, pki, 12345678, "Marie Schmidt", "founder")
	mismatch := adminEntry(t, pki, 22222222, "John Doe", "sysadmin")
	mismatch.PublicKeySHA256 = strings.Repeat("0", 64)
	wrongRole := adminEntry(t, pki, 33333333, "Anne Lefèvre", "office-mgr")
	wrongRole.Role = "founder"

	out, errOut, code := runAPI("roster", "add", "--state", state, rosterFile(t, good))
	if code != 0 || !strings.Contains(out, "added 12345678 (Marie Schmidt, founder)") {
		t.Fatalf("add: exit %d: %s %s", code, out, errOut)
	}
	refusals := []struct {
		name  string
		entry roster.Entry
		want  string
	}{
		{"another tenant's intermediate", adminEntry(t, other, 44444444, "Eve", "founder"), "not issued by this tenant's intermediate"},
		{"mismatched public_key_sha256", mismatch, "does not match the certificate's key"},
		{"role is not the OU", wrongRole, `does not match the certificate's OU`},
		{"duplicate serial", good, "serial 12345678 is already in the roster"},
	}
	for _, tt := range refusals {
		out, errOut, code := runAPI("roster", "add", "--state", state, rosterFile(t, tt.entry))
		if code != 1 || !strings.Contains(errOut, tt.want) || strings.Contains(out, "added") {
			t.Errorf("%s: exit %d, out %q, err %q; want exit 1 and %q", tt.name, code, out, errOut, tt.want)
		}
	}
	if _, errOut, code := runAPI("roster", "add", "--state", state, writeFile(t, "bad.yaml", "roster:\n  - serial: 1\n    colour: red\n")); code != 1 || !strings.Contains(errOut, "colour") {
		t.Errorf("unknown field: exit %d, %s", code, errOut)
	}

	out, errOut, code = runAPI("roster", "burn", "--state", state, "12345678")
	if code != 0 || out != "burned 12345678\n" {
		t.Fatalf("burn: exit %d: %q %s", code, out, errOut)
	}
	if _, _, code := runAPI("roster", "burn", "--state", state, "999"); code != 3 {
		t.Errorf("burn of an unknown serial: exit %d, want 3", code)
	}

	out, errOut, code = runAPI("roster", "list", "--state", state, "--json")
	if code != 0 {
		t.Fatalf("list: exit %d: %s", code, errOut)
	}
	var list []roster.ListEntry
	if err := json.Unmarshal([]byte(out), &list); err != nil {
		t.Fatalf("list --json: %v: %s", err, out)
	}
	if len(list) != 1 || list[0].Serial != good.Serial || list[0].PublicKeySHA256 != good.PublicKeySHA256 || !list[0].Burned || list[0].BurnedAt == nil {
		t.Errorf("list = %+v", list)
	}
	out, _, code = runAPI("roster", "list", "--state", state)
	if code != 0 || !strings.Contains(out, "12345678") || !strings.Contains(out, "burned") {
		t.Errorf("list table: exit %d: %s", code, out)
	}
}

func TestRosterWithoutState(t *testing.T) {
	_, errOut, code := runAPI("roster", "list", "--state", t.TempDir())
	if code != 3 || !strings.Contains(errOut, "run kiwistack-api dev --state") {
		t.Errorf("exit %d: %s", code, errOut)
	}
}
