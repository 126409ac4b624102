//go:build linux

package main

import (
	"bytes"
	"context"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/kiwistack/endpoint/enroll/keysjson"
	"github.com/kiwistack/endpoint/internal/cli"
	"github.com/kiwistack/endpoint/server/dev"
	"github.com/kiwistack/endpoint/test/pcsctest"
)

func runCLI(t *testing.T, stdin string, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	var out, errb bytes.Buffer
	code = run(context.Background(), cli.IO{In: strings.NewReader(stdin), Out: &out, Err: &errb}, args)
	return out.String(), errb.String(), code
}

func writeRoot(t *testing.T, k *pcsctest.Key) string {
	p := filepath.Join(t.TempDir(), "attestation-root.pem")
	if err := os.WriteFile(p, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: k.Root.Raw}), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// startDev runs a dev tenant acme-corp in-process that trusts the virtual
// YubiKeys' attestation root in rootFile, until the test ends.
func startDev(t *testing.T, rootFile string) dev.Info {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	ready := make(chan dev.Info, 1)
	done := make(chan error, 1)
	go func() {
		done <- dev.Run(ctx, dev.Options{StateDir: t.TempDir(), Tenant: "acme-corp", Listen: "127.0.0.1:0",
			AttestationRootFile: rootFile, Ready: func(i dev.Info) { ready <- i }})
	}()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("dev.Run: %v", err)
		}
	})
	select {
	case info := <-ready:
		return info
	case err := <-done:
		done <- err
		t.Fatalf("dev.Run returned before ready: %v", err)
	case <-time.After(30 * time.Second):
		t.Fatal("dev tenant not ready after 30s")
	}
	return dev.Info{}
}

func TestKeysListJSON(t *testing.T) {
	vk := pcsctest.Start(t, pcsctest.Options{Version: "5.7.1"})
	out, errOut, code := runCLI(t, "", "keys", "list", "--json", "--reader", vk.Reader)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	var l keysjson.List
	if err := json.Unmarshal([]byte(out), &l); err != nil {
		t.Fatalf("output is not JSON: %v\n%s", err, out)
	}
	if l.Schema != keysjson.SchemaList {
		t.Errorf("schema = %q", l.Schema)
	}
	for _, k := range l.Keys {
		if k.Serial == vk.Serial {
			if k.Firmware != "5.7.1" {
				t.Errorf("firmware = %q, want 5.7.1", k.Firmware)
			}
			return
		}
	}
	t.Fatalf("serial %d not in %s", vk.Serial, out)
}

func TestKeysProvisionAndInfo(t *testing.T) {
	vk := pcsctest.Start(t, pcsctest.Options{Version: "5.7.1"})
	dir := t.TempDir()
	root := writeRoot(t, vk)
	tenant := startDev(t, root)
	secrets := filepath.Join(dir, "secrets.yaml")
	roster := filepath.Join(dir, "roster.yaml")
	serial := fmt.Sprint(vk.Serial)

	// A wrong root fingerprint is refused before the card changes.
	_, errOut, code := runCLI(t, "", "keys", "provision", "--serial", serial, "--factory-defaults",
		"--admin", "John Doe", "--role", "sysadmin", "--tenant", "acme-corp",
		"--api", tenant.APIURL, "--root-fingerprint", strings.Repeat("ab", 32), "--provisioning-token-file", tenant.ProvisioningTokenFile,
		"--secrets-out", filepath.Join(dir, "unused.yaml"), "--attestation-root", root, "--reader", vk.Reader)
	if code != cli.ExitDenied || !strings.Contains(errOut, "fingerprint") {
		t.Fatalf("wrong fingerprint: exit %d, %s", code, errOut)
	}
	out, errOut, code := runCLI(t, "", "keys", "provision", "--serial", serial, "--factory-defaults",
		"--admin", "John Doe", "--role", "sysadmin", "--tenant", "acme-corp",
		"--api", tenant.APIURL, "--root-fingerprint", tenant.RootFingerprint, "--provisioning-token-file", tenant.ProvisioningTokenFile,
		"--secrets-out", secrets, "--roster-out", roster, "--attestation-root", root, "--reader", vk.Reader)
	if code != 0 {
		t.Fatalf("provision exit %d: %s\n%s", code, errOut, out)
	}
	for _, want := range []string{"attestation verified", "CN=John Doe, OU=sysadmin, O=acme-corp", "serial: " + serial, "role: sysadmin", "admin: John Doe"} {
		if !strings.Contains(out, want) {
			t.Errorf("provision output lacks %q:\n%s", want, out)
		}
	}
	st, err := os.Stat(secrets)
	if err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("secrets file: %v, mode %v; want 0600", err, st.Mode().Perm())
	}
	if b, _ := os.ReadFile(roster); !strings.Contains(string(b), "public_key_sha256:") {
		t.Errorf("roster file: %s", b)
	}

	// A second provisioning of the same key with factory defaults is refused.
	_, errOut, code = runCLI(t, "", "keys", "provision", "--serial", serial, "--factory-defaults",
		"--admin", "Eve", "--role", "founder", "--tenant", "acme-corp",
		"--api", tenant.APIURL, "--root-fingerprint", tenant.RootFingerprint, "--provisioning-token-file", tenant.ProvisioningTokenFile,
		"--secrets-out", filepath.Join(dir, "other.yaml"), "--attestation-root", root, "--reader", vk.Reader)
	if code == 0 || !strings.Contains(errOut, "already holds") {
		t.Errorf("re-provisioning with factory defaults: exit %d, %s", code, errOut)
	}

	out, errOut, code = runCLI(t, "", "keys", "info", serial, "--attestation-root", root, "--reader", vk.Reader)
	if code != 0 {
		t.Fatalf("info exit %d: %s", code, errOut)
	}
	for _, want := range []string{"John Doe", "sysadmin", "acme-corp", "Attestation:", "verified", "PIN once, touch always"} {
		if !strings.Contains(out, want) {
			t.Errorf("info output lacks %q:\n%s", want, out)
		}
	}
	out, _, code = runCLI(t, "", "keys", "info", serial, "--json", "--attestation-root", root, "--reader", vk.Reader)
	var info keysjson.Info
	if code != 0 || json.Unmarshal([]byte(out), &info) != nil || info.Slot9a == nil || info.Slot9a.Role != "sysadmin" || info.Attestation == nil || !info.Attestation.Verified {
		t.Errorf("info --json: exit %d\n%s", code, out)
	}
	// Without the test root, the virtual key's attestation is not trusted.
	out, _, _ = runCLI(t, "", "keys", "info", serial, "--reader", vk.Reader)
	if !strings.Contains(out, "NOT verified") {
		t.Errorf("info against Yubico's roots should not verify a virtual key:\n%s", out)
	}
}

func TestKeysErrors(t *testing.T) {
	for _, tc := range []struct {
		name string
		args []string
		code int
		want string
	}{
		{"bad serial", []string{"keys", "info", "abc"}, cli.ExitUsage, "not a YubiKey serial"},
		{"unknown serial", []string{"keys", "info", "4294967295", "--reader", "no such reader"}, cli.ExitNotFound, "no YubiKey found"},
		{"provision without flags", []string{"keys", "provision"}, cli.ExitUsage, "required flag"},
		{"unknown verb", []string{"keys", "frobnicate"}, cli.ExitUsage, "unknown command"},
		{"missing attestation file", []string{"keys", "verify-attestation", "/nonexistent/f9.pem", "/nonexistent/9a.pem"}, cli.ExitNotFound, "reading the f9"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, errOut, code := runCLI(t, "", tc.args...)
			if code != tc.code || !strings.Contains(errOut, tc.want) {
				t.Errorf("exit %d, stderr %q; want %d and %q", code, errOut, tc.code, tc.want)
			}
		})
	}
}
