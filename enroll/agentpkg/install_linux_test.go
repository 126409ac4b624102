package agentpkg

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/kiwistack/endpoint/packaging/deb"
	"github.com/kiwistack/endpoint/packaging/deb/debtest"
	"github.com/kiwistack/endpoint/packaging/sign"
)

// TestInstallDeb installs a signed .deb built by packaging/deb into a dpkg
// root with real dpkg, and shows that a tampered one never reaches dpkg.
// The package holds stand-in programs: what is tested is the signature
// gate and the dpkg command line, not the binaries.
func TestInstallDeb(t *testing.T) {
	debtest.Require(t, os.Geteuid() == 0, "dpkg --root runs maintainer scripts in a chroot: needs root")
	_, err := exec.LookPath("dpkg")
	debtest.Require(t, err == nil, "dpkg is not installed (Debian package dpkg)")
	_, err = os.Stat("/usr/bin/deb-systemd-helper")
	debtest.Require(t, err == nil, "deb-systemd-helper is not installed (Debian package init-system-helpers)")

	dir := t.TempDir()
	for _, n := range []string{"kiwistack-enroll", "kiwistack-agent"} {
		if err := os.WriteFile(filepath.Join(dir, n), []byte("#!/bin/sh\nexit 0\n"), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	pkg, err := deb.BuildFile(deb.Options{
		Version: "0.1.0", Arch: "amd64",
		Enroll: filepath.Join(dir, "kiwistack-enroll"), Agent: filepath.Join(dir, "kiwistack-agent"),
		CommitTime: time.Date(2026, 11, 28, 6, 0, 0, 0, time.UTC),
	}, dir)
	if err != nil {
		t.Fatal(err)
	}
	k, _ := sign.GenerateKey(rand.Reader)
	if err := sign.SignFile(k, pkg, time.Now()); err != nil {
		t.Fatal(err)
	}
	root := debtest.MinimalRoot(t)
	status := func() string {
		out, _ := exec.Command("dpkg-query", "--root="+root, "-W", "-f=${Status} ${Version}", deb.Name).Output()
		return string(out)
	}
	var output bytes.Buffer
	inst, err := NewInstaller(InstallerOptions{Root: root, Stdout: &output, Stderr: &output})
	if err != nil {
		t.Fatal(err)
	}

	// Tampered: refused before dpkg runs, nothing installed.
	tampered := filepath.Join(dir, "tampered", filepath.Base(pkg))
	b, _ := os.ReadFile(pkg)
	b[len(b)-1] ^= 1
	if err := os.MkdirAll(filepath.Dir(tampered), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(tampered, b, 0o644); err != nil {
		t.Fatal(err)
	}
	_, err = Install(context.Background(), Options{Package: tampered, Signature: pkg + sign.Suffix, TrustedKey: k.Public().String(), Installer: inst})
	if !errors.Is(err, ErrNotVerified) {
		t.Fatalf("Install of a tampered .deb = %v, want ErrNotVerified", err)
	}
	if s := status(); s != "" || output.Len() != 0 {
		t.Fatalf("dpkg ran for a tampered package: status %q, output %q", s, output.String())
	}

	// Signed: installed by dpkg.
	res, err := Install(context.Background(), Options{Package: pkg, TrustedKey: k.Public().String(), Installer: inst})
	if err != nil {
		t.Fatalf("Install: %v\n%s", err, output.String())
	}
	if s := status(); s != "install ok installed 0.1.0" {
		t.Errorf("dpkg-query after install: %q\n%s", s, output.String())
	}
	if _, err := os.Stat(filepath.Join(root, deb.AgentPath)); err != nil {
		t.Errorf("agent not installed: %v", err)
	}
	if res.KeyID != k.ID.String() {
		t.Errorf("KeyID = %s", res.KeyID)
	}
}
