//go:build linux

package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/kiwistack/endpoint/enroll/adminjson"
	"github.com/kiwistack/endpoint/enroll/yubikey"
	"github.com/kiwistack/endpoint/internal/cli"
	"github.com/kiwistack/endpoint/server/ca"
	"github.com/kiwistack/endpoint/server/dev"
	"github.com/kiwistack/endpoint/server/store"
	"github.com/kiwistack/endpoint/test/pcsctest"
)

// runDev runs the dev tenant acme-corp on state directory dir, trusting the
// virtual YubiKeys' attestation root in rootFile, until stop is called (or
// the test ends).
func runDev(t *testing.T, dir, rootFile string) (info dev.Info, stop func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	ready := make(chan dev.Info, 1)
	done := make(chan error, 1)
	go func() {
		done <- dev.Run(ctx, dev.Options{StateDir: dir, Tenant: "acme-corp", Listen: "127.0.0.1:0",
			AttestationRootFile: rootFile, Ready: func(i dev.Info) { ready <- i }})
	}()
	stopped := false
	stop = func() {
		if stopped {
			return
		}
		stopped = true
		cancel()
		if err := <-done; err != nil {
			t.Errorf("dev.Run: %v", err)
		}
	}
	t.Cleanup(stop)
	select {
	case info = <-ready:
		return info, stop
	case err := <-done:
		stopped = true
		t.Fatalf("dev.Run returned before ready: %v", err)
	case <-time.After(30 * time.Second):
		t.Fatal("dev tenant not ready after 30s")
	}
	return info, stop
}

// rotateOffline rotates the stopped dev tenant's intermediate the way
// rotate_intermediate does: a pending key and its request in the CA's
// state directory, the MSP root signs, Embedded.Rotate applies.
func rotateOffline(t *testing.T, dir string) *x509.Certificate {
	t.Helper()
	caDir, now := dev.CAPath(dir), time.Now()
	csr, err := ca.RequestIntermediate(caDir, "acme-corp")
	if err != nil {
		t.Fatal(err)
	}
	msp, err := ca.LoadOrCreateMSP(caDir, now)
	if err != nil {
		t.Fatal(err)
	}
	next, err := msp.SignIntermediate(csr, "acme-corp", now)
	if err != nil {
		t.Fatal(err)
	}
	emb, err := ca.Open(caDir, "acme-corp")
	if err != nil {
		t.Fatal(err)
	}
	defer emb.Close()
	if err := emb.Rotate(next); err != nil {
		t.Fatal(err)
	}
	return next
}

// slot9a reads the virtual key's slot 9a certificate.
func slot9a(t *testing.T, vk *pcsctest.Key) *x509.Certificate {
	t.Helper()
	k, err := yubikey.NewClient(yubikey.WithReaders(vk.Reader)).Open(context.Background(), vk.Serial, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer k.Close()
	c, err := k.Certificate()
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// TestKeysRefreshAfterRotation plays the administrator's side of D4
// scenario 03: a provisioned key, the tenant's intermediate rotated, the
// old certificate no longer chains to it; keys refresh stores a new
// certificate for the same key, under the new intermediate, in slot 9a.
func TestKeysRefreshAfterRotation(t *testing.T) {
	vk := pcsctest.Start(t, pcsctest.Options{Version: "5.7.1"})
	root := writeRoot(t, vk)
	state, dir := t.TempDir(), t.TempDir()
	secrets := filepath.Join(dir, "secrets.yaml")
	serial := fmt.Sprint(vk.Serial)

	tenant, stop := runDev(t, state, root)
	out, errOut, code := runCLI(t, "", "keys", "provision", "--serial", serial, "--factory-defaults",
		"--admin", "John Doe", "--role", "sysadmin", "--tenant", "acme-corp",
		"--api", tenant.APIURL, "--root-fingerprint", tenant.RootFingerprint, "--provisioning-token-file", tenant.ProvisioningTokenFile,
		"--secrets-out", secrets, "--attestation-root", root, "--reader", vk.Reader)
	if code != 0 {
		t.Fatalf("provision exit %d: %s\n%s", code, errOut, out)
	}
	before := slot9a(t, vk)
	stop()
	next := rotateOffline(t, state)
	if before.CheckSignatureFrom(next) == nil {
		t.Fatal("the old certificate verifies under the new intermediate")
	}
	tenant, _ = runDev(t, state, root)
	refresh := func() (string, string, int) {
		return runCLI(t, "", "keys", "refresh", "--serial", serial, "--api", tenant.APIURL,
			"--root-fingerprint", tenant.RootFingerprint, "--current-secrets", secrets,
			"--attestation-root", root, "--reader", vk.Reader)
	}

	// Not in the roster yet: refused, and slot 9a is untouched.
	out, errOut, code = refresh()
	if code != cli.ExitDenied || !strings.Contains(errOut, "unknown_key") {
		t.Fatalf("refresh of a key the roster does not know: exit %d, %s\n%s", code, errOut, out)
	}
	if !slot9a(t, vk).Equal(before) {
		t.Fatal("a refused refresh changed slot 9a")
	}

	st, err := store.Open(context.Background(), dev.DBPath(state))
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(before.RawSubjectPublicKeyInfo)
	for _, e := range []store.RosterEntry{
		{Serial: vk.Serial, Admin: "John Doe", Role: "sysadmin", SPKISHA256: hex.EncodeToString(sum[:])},
		{Serial: 7002, Admin: "Lost", Role: "sysadmin", SPKISHA256: strings.Repeat("ab", 32)},
	} {
		if err := st.AddRosterEntry(context.Background(), e); err != nil {
			t.Fatal(err)
		}
	}
	st.Close()

	// With the certificate from the retired intermediate, the key signs
	// nothing: John's signature of a burn_key is refused.
	pin := regexp.MustCompile(`pin: "?([0-9]{8})"?`).FindSubmatch(readFile(t, secrets))
	if pin == nil {
		t.Fatal("secrets file has no PIN")
	}
	apiFlags := []string{"--api", tenant.APIURL, "--tenant", "acme-corp", "--root-fingerprint", tenant.RootFingerprint}
	out, errOut, code = runCLI(t, "", append([]string{"admin", "request", "burn_key", "--param", "serial=7002", "--json"}, apiFlags...)...)
	var op adminjson.Operation
	if code != 0 || json.Unmarshal([]byte(out), &op) != nil || op.Operation.ID == "" {
		t.Fatalf("request: exit %d\n%s\n%s", code, out, errOut)
	}
	sign := func() (string, string, int) {
		return runCLI(t, string(pin[1])+"\n", append([]string{"admin", "sign", op.Operation.ID, "--serial", serial,
			"--reader", vk.Reader, "--pin-stdin"}, apiFlags...)...)
	}
	if out, errOut, code := sign(); code == 0 || strings.Contains(out, "is now applied") || !strings.Contains(errOut, "untrusted_chain") {
		t.Fatalf("a signature with the old certificate was accepted: exit %d\n%s\n%s", code, out, errOut)
	}

	// A wrong management key: the certificate is issued but not stored,
	// and the slot is as it was.
	wrongMK := filepath.Join(dir, "wrong-mk.yaml")
	b := readFile(t, secrets)
	re := regexp.MustCompile(`management_key: "?[0-9a-f]{48}"?`)
	if !re.Match(b) {
		t.Fatalf("secrets file has no management key:\n%s", b)
	}
	if err := os.WriteFile(wrongMK, re.ReplaceAll(b, []byte("management_key: "+strings.Repeat("5a", 24))), 0o600); err != nil {
		t.Fatal(err)
	}
	_, errOut, code = runCLI(t, "", "keys", "refresh", "--serial", serial, "--api", tenant.APIURL,
		"--root-fingerprint", tenant.RootFingerprint, "--current-secrets", wrongMK,
		"--attestation-root", root, "--reader", vk.Reader)
	if code == 0 || !strings.Contains(errOut, "management key") || !strings.Contains(errOut, "unchanged") {
		t.Fatalf("refresh with a wrong management key: exit %d, %s", code, errOut)
	}
	if !slot9a(t, vk).Equal(before) {
		t.Fatal("a refresh with a wrong management key changed slot 9a")
	}

	out, errOut, code = refresh()
	if code != 0 {
		t.Fatalf("refresh exit %d: %s\n%s", code, errOut, out)
	}
	t.Logf("keys refresh:\n%s", out)
	after := slot9a(t, vk)
	if err := after.CheckSignatureFrom(next); err != nil {
		t.Errorf("slot 9a's new certificate is not issued by the new intermediate: %v", err)
	}
	if before.CheckSignatureFrom(next) == nil || after.Equal(before) {
		t.Error("slot 9a still holds the old certificate")
	}
	if !bytes.Equal(after.RawSubjectPublicKeyInfo, before.RawSubjectPublicKeyInfo) {
		t.Error("the new certificate is for another key")
	}
	if s := after.Subject; s.CommonName != "John Doe" || len(s.OrganizationalUnit) != 1 || s.OrganizationalUnit[0] != "sysadmin" ||
		len(s.Organization) != 1 || s.Organization[0] != "acme-corp" {
		t.Errorf("subject %s", s)
	}
	for _, want := range []string{"holds a new certificate for the same key", "CN=John Doe, OU=sysadmin, O=acme-corp",
		hex.EncodeToString(after.AuthorityKeyId)[:16], hex.EncodeToString(before.AuthorityKeyId)[:16],
		after.NotAfter.UTC().Format(time.RFC3339)} {
		if !strings.Contains(out, want) {
			t.Errorf("refresh output lacks %q:\n%s", want, out)
		}
	}

	// --json is the versioned schema.
	out, errOut, code = runCLI(t, "", "keys", "refresh", "--json", "--serial", serial, "--api", tenant.APIURL,
		"--root-fingerprint", tenant.RootFingerprint, "--current-secrets", secrets,
		"--attestation-root", root, "--reader", vk.Reader)
	if code != 0 || !strings.Contains(out, `"schema": "kiwistack.keys.refresh/v1"`) || !strings.Contains(out, `"public_key_sha256": "`+hex.EncodeToString(sum[:])) {
		t.Errorf("refresh --json: exit %d, %s\n%s", code, errOut, out)
	}

	// With the new certificate the same key signs again.
	if out, errOut, code := sign(); code != 0 || !strings.Contains(out, "is now applied") {
		t.Fatalf("sign after refresh: exit %d\n%s\n%s", code, out, errOut)
	}
}

func readFile(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestKeysRefreshUsage(t *testing.T) {
	_, errOut, code := runCLI(t, "", "keys", "refresh")
	if code != cli.ExitUsage || !strings.Contains(errOut, "required flag") {
		t.Errorf("refresh without flags: exit %d, %s", code, errOut)
	}
}
