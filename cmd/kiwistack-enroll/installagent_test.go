package main

import (
	"crypto/rand"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/kiwistack/endpoint/enroll/agentpkg"
	"github.com/kiwistack/endpoint/internal/cli"
	"github.com/kiwistack/endpoint/packaging/sign"
)

// TestInstallAgentRefuses: every way install-agent must refuse, with exit
// 4 and a message saying why; none reaches the installer (the package is
// not a real one, so an installer run would fail with another code).
func TestInstallAgentRefuses(t *testing.T) {
	k, _ := sign.GenerateKey(rand.Reader)
	dir := t.TempDir()
	pkg := filepath.Join(dir, "kiwistack_0.1.0_amd64.deb")
	if err := os.WriteFile(pkg, []byte("package"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := sign.SignFile(k, pkg, time.Now()); err != nil {
		t.Fatal(err)
	}
	tampered := filepath.Join(dir, "tampered.deb")
	if err := os.WriteFile(tampered, []byte("evil"), 0o644); err != nil {
		t.Fatal(err)
	}

	saved := agentpkg.ReleaseKey
	t.Cleanup(func() { agentpkg.ReleaseKey = saved })

	agentpkg.ReleaseKey = ""
	_, errOut, code := runArgs("install-agent", pkg)
	if code != cli.ExitDenied || !strings.Contains(errOut, "built without a trusted release key") {
		t.Errorf("without a built-in key: exit %d, %s", code, errOut)
	}

	agentpkg.ReleaseKey = k.Public().String()
	for _, tc := range []struct {
		name string
		args []string
		code int
		want string
	}{
		{"tampered", []string{"install-agent", tampered, "--signature", pkg + ".minisig"}, cli.ExitDenied, "not the one that was signed"},
		{"no signature", []string{"install-agent", tampered}, cli.ExitDenied, "does not verify"},
		{"no package", []string{"install-agent", filepath.Join(dir, "missing.deb")}, cli.ExitNotFound, "missing.deb"},
		{"no argument", []string{"install-agent"}, cli.ExitUsage, "arg"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, errOut, code := runArgs(tc.args...)
			if code != tc.code || !strings.Contains(errOut, tc.want) {
				t.Errorf("exit %d, %q; want exit %d and %q", code, errOut, tc.code, tc.want)
			}
		})
	}
}
