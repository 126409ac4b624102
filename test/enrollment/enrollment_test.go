//go:build linux

package enrollment

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/kiwistack/endpoint/enroll/enrolljson"
	"github.com/kiwistack/endpoint/enroll/protocol"
	"github.com/kiwistack/endpoint/test/e2e"
	"github.com/kiwistack/endpoint/test/pcsctest"
)

func TestMain(m *testing.M) {
	os.Exit(e2e.Main(m, "kiwistack-api", "kiwistack-enroll"))
}

// startWithAdmin starts a virtual YubiKey with opts and a tenant that
// trusts its attestation root, and provisions the key for John Doe, the
// tenant's sysadmin.
func startWithAdmin(t testing.TB, opts pcsctest.Options) (*e2e.Tenant, e2e.Admin) {
	t.Helper()
	vk := pcsctest.Start(t, opts)
	attRoot := e2e.WriteAttestationRoot(t, vk.Root)
	tn := e2e.StartTenant(t, attRoot)
	return tn, e2e.Provision(t, tn, vk, attRoot, "John Doe", "sysadmin")
}

func TestEnrollEndToEnd(t *testing.T) {
	pcsctest.Require(t)
	tn, admin := startWithAdmin(t, pcsctest.Options{Version: "5.7.1"})

	sandbox := t.TempDir()
	out, errOut, code := e2e.Run(t, admin.PIN+"\n", "kiwistack-enroll", e2e.EnrollArgs(tn, admin, sandbox)...)
	if code != 0 {
		t.Fatalf("enroll: exit %d\n%s\n%s", code, out, errOut)
	}
	var res enrolljson.Result
	if err := json.Unmarshal([]byte(out), &res); err != nil {
		t.Fatalf("--json output: %v\n%s", err, out)
	}
	if res.Schema != enrolljson.Schema || res.Tenant != "acme-corp" || !regexp.MustCompile(`^d-[0-9a-f]{32}$`).MatchString(res.DeviceID) {
		t.Errorf("result %+v", res)
	}
	if len(res.Steps) != 7 {
		t.Fatalf("%d steps, want the seven of seed D3: %+v", len(res.Steps), res.Steps)
	}
	for i, s := range res.Steps {
		if s.Number != i+1 || s.Title == "" || s.Millis < 0 {
			t.Errorf("step %d: %+v", i+1, s)
		}
		if !strings.Contains(errOut, fmt.Sprintf("[%d/7] %s", i+1, s.Title)) {
			t.Errorf("progress does not show step %d %q:\n%s", i+1, s.Title, errOut)
		}
	}

	// The certificate: issued by step-ca under the tenant root, for 24 h,
	// naming the device, for the key installed beside it.
	rootPEM, err := os.ReadFile(res.Files.Root)
	if err != nil {
		t.Fatal(err)
	}
	rootBlock, _ := pem.Decode(rootPEM)
	sum := sha256.Sum256(rootBlock.Bytes)
	if hex.EncodeToString(sum[:]) != tn.Fingerprint {
		t.Errorf("installed root is not the tenant root")
	}
	tenantRoot, err := os.ReadFile(tn.RootFile)
	if err != nil || !bytes.Equal(tenantRoot, rootPEM) {
		t.Errorf("installed root differs from the tenant's %s (%v)", tn.RootFile, err)
	}
	chain := e2e.ReadCerts(t, res.Files.Certificate)
	leaf := chain[0]
	roots := x509.NewCertPool()
	roots.AppendCertsFromPEM(rootPEM)
	inter := x509.NewCertPool()
	for _, c := range chain[1:] {
		inter.AddCert(c)
	}
	if _, err := leaf.Verify(x509.VerifyOptions{Roots: roots, Intermediates: inter, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}); err != nil {
		t.Errorf("device certificate does not verify against the tenant root: %v", err)
	}
	if got := leaf.NotAfter.Sub(leaf.NotBefore); got != 24*time.Hour+time.Minute {
		t.Errorf("validity %s, want 24 h (plus step-ca's 1 min backdate)", got)
	}
	wgURI, err := protocol.WireGuardURI(res.WireGuardPublicKey)
	if err != nil {
		t.Fatal(err)
	}
	if leaf.Subject.CommonName != res.DeviceID || len(leaf.URIs) != 2 || leaf.URIs[0].String() != "urn:kiwistack:device:acme-corp:"+res.DeviceID ||
		leaf.URIs[1].String() != wgURI {
		t.Errorf("certificate names %s / %v, want %s and its WireGuard key %s", leaf.Subject, leaf.URIs, res.DeviceID, wgURI)
	}
	if !e2e.StepProvisioned(leaf) {
		t.Error("the certificate lacks step-ca's provisioner extension: not issued by step-ca")
	}
	fi, err := os.Stat(res.Files.Key)
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("device key %s: %v, mode %v, want 0600", res.Files.Key, err, fi.Mode())
	}
	keyPEM, _ := os.ReadFile(res.Files.Key)
	kb, _ := pem.Decode(keyPEM)
	key, err := x509.ParsePKCS8PrivateKey(kb.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	if !key.(*ecdsa.PrivateKey).PublicKey.Equal(leaf.PublicKey) {
		t.Error("installed key does not match the certificate")
	}

	// The same laptop again: refused locally without --reenroll, before
	// anything is asked of the person.
	_, errOut, code = e2e.Run(t, admin.PIN+"\n", "kiwistack-enroll", e2e.EnrollArgs(tn, admin, sandbox)...)
	if code == 0 || !strings.Contains(errOut, "already enrolled as "+res.DeviceID) {
		t.Errorf("second enrollment: exit %d\n%s", code, errOut)
	}
	// With --reenroll but without an administrator's allowance: the API
	// refuses (409 device_exists) and the laptop keeps its enrollment.
	_, errOut, code = e2e.Run(t, admin.PIN+"\n", "kiwistack-enroll", e2e.EnrollArgs(tn, admin, sandbox, "--reenroll")...)
	if code != 4 || !strings.Contains(errOut, "allow") {
		t.Errorf("re-enrollment without allowance: exit %d, want 4\n%s", code, errOut)
	}
	if again := e2e.ReadCerts(t, res.Files.Certificate); !again[0].Equal(leaf) {
		t.Error("a refused re-enrollment replaced the certificate")
	}
	// Allowed: a new device key, id and certificate replace the old ones.
	e2e.MustRun(t, "", "kiwistack-api", "devices", "allow-reenroll", "--state", tn.State, res.DeviceID)
	out = e2e.MustRun(t, admin.PIN+"\n", "kiwistack-enroll", e2e.EnrollArgs(tn, admin, sandbox, "--reenroll")...)
	var res2 enrolljson.Result
	if err := json.Unmarshal([]byte(out), &res2); err != nil {
		t.Fatal(err)
	}
	if res2.DeviceID == res.DeviceID {
		t.Error("re-enrollment kept the device id; a new key must be a new device")
	}
	if now := e2e.ReadCerts(t, res.Files.Certificate); now[0].Equal(leaf) {
		t.Error("re-enrollment left the old certificate")
	}
}

func TestEnrollRefusesWrongPINAndForeignTenant(t *testing.T) {
	pcsctest.Require(t)
	tn, admin := startWithAdmin(t, pcsctest.Options{Version: "5.7.1"})
	sandbox := t.TempDir()

	_, errOut, code := e2e.Run(t, "99999999\n", "kiwistack-enroll", e2e.EnrollArgs(tn, admin, sandbox)...)
	if code != 4 || !strings.Contains(errOut, "wrong PIN") {
		t.Errorf("wrong PIN: exit %d, want 4\n%s", code, errOut)
	}
	args := e2e.EnrollArgs(tn, admin, sandbox)
	for i, a := range args {
		if a == "acme-corp" {
			args[i] = "globex"
		}
	}
	_, errOut, code = e2e.Run(t, admin.PIN+"\n", "kiwistack-enroll", args...)
	if code == 0 || !strings.Contains(errOut, "not tenant globex") {
		t.Errorf("foreign tenant: exit %d\n%s", code, errOut)
	}
	_, errOut, code = e2e.Run(t, admin.PIN+"\n", "kiwistack-enroll", append(e2e.EnrollArgs(tn, admin, sandbox)[:0:0],
		"enroll", "--api", tn.APIURL, "--tenant", "acme-corp", "--root-fingerprint", strings.Repeat("00", 32),
		"--root", sandbox, "--pin-stdin", "--reader", admin.Key.Reader, "--hardware-fingerprint", "hw1:"+strings.Repeat("ab", 32))...)
	if code == 0 || !strings.Contains(strings.ToLower(errOut), "fingerprint") {
		t.Errorf("wrong root fingerprint: exit %d\n%s", code, errOut)
	}
	entries, err := os.ReadDir(sandbox)
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 0 {
		t.Errorf("failed enrollments wrote into the sandbox: %v", entries)
	}
}
