package agentpkg

import (
	"context"
	"crypto/rand"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/kiwistack/endpoint/packaging/sign"
)

// signed writes a package body to dir/name and its signature by k.
func signed(t *testing.T, k *sign.SecretKey, dir, name, body string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := sign.SignFile(k, p, time.Unix(1764311897, 0)); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestInstall(t *testing.T) {
	k, _ := sign.GenerateKey(rand.Reader)
	other, _ := sign.GenerateKey(rand.Reader)
	dir := t.TempDir()
	good := signed(t, k, dir, "kiwistack_0.1.0_amd64.deb", "package")
	byOther := signed(t, other, dir, "other.deb", "package")
	tampered := signed(t, k, dir, "tampered.deb", "package")
	if err := os.WriteFile(tampered, []byte("evil package"), 0o644); err != nil {
		t.Fatal(err)
	}
	unsigned := filepath.Join(dir, "unsigned.deb")
	if err := os.WriteFile(unsigned, []byte("package"), 0o644); err != nil {
		t.Fatal(err)
	}
	garbageSig := filepath.Join(dir, "garbage.minisig")
	if err := os.WriteFile(garbageSig, []byte("untrusted comment: x\nnonsense\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	trusted := k.Public().String()

	for _, tc := range []struct {
		name      string
		o         Options
		want      error
		installed bool
	}{
		{"signed by the release key", Options{Package: good, TrustedKey: trusted}, nil, true},
		{"built without a key", Options{Package: good}, ErrNoTrustedKey, false},
		{"built with a broken key", Options{Package: good, TrustedKey: "RWQ"}, ErrNoTrustedKey, false},
		{"tampered package", Options{Package: tampered, TrustedKey: trusted}, ErrNotVerified, false},
		{"signed by another key", Options{Package: byOther, TrustedKey: trusted}, ErrNotVerified, false},
		{"no signature", Options{Package: unsigned, TrustedKey: trusted}, ErrNotVerified, false},
		{"garbage signature", Options{Package: good, Signature: garbageSig, TrustedKey: trusted}, ErrNotVerified, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fake := &FakeInstaller{}
			tc.o.Installer = fake
			res, err := Install(context.Background(), tc.o)
			if !errors.Is(err, tc.want) {
				t.Fatalf("Install = %v, want %v", err, tc.want)
			}
			if got := len(fake.Installed) == 1; got != tc.installed {
				t.Fatalf("installer called with %v, want installed=%v", fake.Installed, tc.installed)
			}
			if tc.installed {
				if filepath.Base(fake.Installed[0]) != filepath.Base(tc.o.Package) || fake.Installed[0] == tc.o.Package {
					t.Errorf("installer got %s, want a private copy of %s", fake.Installed[0], tc.o.Package)
				}
				if res.KeyID != k.ID.String() {
					t.Errorf("KeyID = %s, want %s", res.KeyID, k.ID)
				}
			}
		})
	}
}

// TestCommands checks the command line of every OS's installer.
func TestCommands(t *testing.T) {
	for _, tc := range []struct {
		name string
		got  []string
		want []string
	}{
		{"linux", dpkgCommand("/tmp/k.deb", ""), []string{"/usr/bin/dpkg", "-i", "/tmp/k.deb"}},
		{"linux root", dpkgCommand("/tmp/k.deb", "/r"), []string{"/usr/bin/dpkg", "--root=/r", "-i", "/tmp/k.deb"}},
		{"darwin", installerCommand("/tmp/k.pkg"), []string{"/usr/sbin/installer", "-pkg", "/tmp/k.pkg", "-target", "/"}},
		{"windows", msiexecCommand(`C:\Users\a b\k.msi`, `C:\Windows\`),
			[]string{`C:\Windows\System32\msiexec.exe`, "/i", `C:\Users\a b\k.msi`, "/qn", "/norestart"}},
	} {
		if !slices.Equal(tc.got, tc.want) {
			t.Errorf("%s: %q, want %q", tc.name, tc.got, tc.want)
		}
	}
}

func TestInstallerRefusesOtherFormats(t *testing.T) {
	called := false
	e := execInstaller{ext: ".msi", argv: func(string) []string { called = true; return []string{"false"} }}
	if err := e.Install(context.Background(), "/tmp/k.deb"); err == nil || called {
		t.Fatalf("Install of a .deb by the .msi installer: %v, ran=%v", err, called)
	}
}
