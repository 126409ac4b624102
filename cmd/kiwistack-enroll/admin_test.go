package main

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/json"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/kiwistack/endpoint/enroll"
	"github.com/kiwistack/endpoint/enroll/adminjson"
	"github.com/kiwistack/endpoint/enroll/yubikey"
	"github.com/kiwistack/endpoint/internal/cli"
	"github.com/kiwistack/endpoint/server/ca"
	"github.com/kiwistack/endpoint/server/dev"
	"github.com/kiwistack/endpoint/server/store"
)

// TestAdminCommands runs `admin …` against an in-process dev tenant (the
// real API, store and step-ca behind pinned TLS), with a software key in
// place of the YubiKey (no pcscd needed).
func TestAdminCommands(t *testing.T) {
	const slug = "acme-corp"
	dir := t.TempDir()
	ctx, cancel := context.WithCancel(context.Background())
	ready, done := make(chan dev.Info, 1), make(chan error, 1)
	go func() {
		done <- dev.Run(ctx, dev.Options{StateDir: dir, Tenant: slug, Listen: "127.0.0.1:0", Ready: func(i dev.Info) { ready <- i }})
	}()
	var info dev.Info
	select {
	case info = <-ready:
	case err := <-done:
		cancel()
		t.Fatal(err)
	}
	t.Cleanup(func() { cancel(); <-done })

	pki, err := ca.LoadOrCreatePKI(dev.CAPath(dir), slug, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	st, err := store.Open(ctx, dev.DBPath(dir))
	if err != nil {
		t.Fatal(err)
	}
	k, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	der, err := x509.CreateCertificate(rand.Reader, &x509.Certificate{SerialNumber: big.NewInt(7),
		Subject:   pkix.Name{CommonName: "Fiona", OrganizationalUnit: []string{"founder"}, Organization: []string{slug}},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}},
		pki.Intermediate, &k.PublicKey, pki.IntermediateKey)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	sum := sha256.Sum256(cert.RawSubjectPublicKeyInfo)
	for _, e := range []store.RosterEntry{
		{Serial: 7001, Admin: "Fiona", Role: "founder", SPKISHA256: hex.EncodeToString(sum[:])},
		{Serial: 7002, Admin: "Lost", Role: "sysadmin", SPKISHA256: strings.Repeat("ab", 32)},
	} {
		if err := st.AddRosterEntry(ctx, e); err != nil {
			t.Fatal(err)
		}
	}
	st.Close()
	saved := openAdminSigner
	openAdminSigner = func(context.Context, *yubikey.Client, yubikey.UI, uint32) (enroll.StatementSigner, error) {
		return enroll.SoftwareSigner{Key: k, Cert: cert, SerialNo: 7001}, nil
	}
	t.Cleanup(func() { openAdminSigner = saved })

	cfg := filepath.Join(t.TempDir(), "enroll.yaml")
	if err := os.WriteFile(cfg, []byte("api: "+info.APIURL+"\ntenant: "+slug+"\nroot_fingerprint: "+info.RootFingerprint+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	admin := func(args ...string) (string, string, int) {
		return runArgs(append([]string{"admin", args[0], "--config", cfg}, args[1:]...)...)
	}

	out, errOut, code := admin("request", "burn_key", "--param", "serial=7002", "--json")
	var req adminjson.Operation
	if code != 0 || json.Unmarshal([]byte(out), &req) != nil || req.Operation.State != "pending" {
		t.Fatalf("request: exit %d\n%s\n%s", code, out, errOut)
	}
	out, errOut, code = admin("sign", req.Operation.ID)
	if code != 0 || !strings.Contains(out, "burn_key of YubiKey 7002 (Lost, sysadmin) in acme-corp") || !strings.Contains(out, "is now applied") {
		t.Fatalf("sign: exit %d\n%s\n%s", code, out, errOut)
	}
	for _, tc := range []struct {
		args []string
		code int
	}{
		{[]string{"request", "remove_admin", "--param", "serial=7001"}, cli.ExitDenied}, // lockout
		{[]string{"request", "burn_key", "--param", "serial"}, cli.ExitUsage},
		{[]string{"status", "AAAAAAAAAAAAAAAAAAAAAA"}, cli.ExitNotFound},
		{[]string{"sign", req.Operation.ID}, 1}, // applied: nothing to sign
	} {
		if _, errOut, code := admin(tc.args...); code != tc.code || errOut == "" {
			t.Errorf("%v: exit %d, want %d: %s", tc.args, code, tc.code, errOut)
		}
	}
	out, _, code = admin("list")
	if code != 0 || !strings.Contains(out, req.Operation.ID) {
		t.Errorf("list: exit %d\n%s", code, out)
	}
	out, errOut, code = admin("audit", "--verify")
	if code != 0 || !strings.Contains(out, "hash chain of") {
		t.Errorf("audit: exit %d\n%s\n%s", code, out, errOut)
	}
}
