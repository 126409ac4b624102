// Package debtest makes throwaway dpkg roots for tests that install the
// kiwistack .deb with real dpkg (`dpkg --root`): packaging/deb's round trip
// and the enroller's install-agent. It is imported by tests only and must
// not be linked into a shipped binary.
package debtest

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/kiwistack/endpoint/packaging/internal/pkgtest"
)

// Require skips the test with why, or fails it when
// KIWISTACK_REQUIRE_HW_TESTS=1 (make test, CI) says it must run. It is
// [pkgtest.Require], for tests outside packaging/.
func Require(t testing.TB, ok bool, why string) {
	t.Helper()
	pkgtest.Require(t, ok, why)
}

// hostPackages are the host's packages whose status the root copies, so
// that kiwistack's Depends are satisfied as on a real system.
var hostPackages = []string{"libc6", "libpcsclite1", "pcscd"}

// rootTools are the programs the maintainer scripts run in the root.
var rootTools = []string{"/bin/sh", "/usr/bin/mkdir", "/usr/bin/chmod", "/usr/bin/rm", "/usr/bin/perl",
	"/usr/bin/deb-systemd-helper", "/usr/bin/deb-systemd-invoke"}

// MinimalRoot makes a directory dpkg --root can install into: dpkg's
// database, the host's status for hostPackages, and rootTools with their
// libraries and perl's modules.
func MinimalRoot(t testing.TB) string {
	t.Helper()
	root := t.TempDir()
	for _, d := range []string{"var/lib/dpkg/info", "var/lib/dpkg/updates", "var/lib/dpkg/triggers",
		"var/log", "etc", "tmp", "dev", "run", "usr/bin", "usr/sbin", "usr/lib", "usr/lib64"} {
		if err := os.MkdirAll(filepath.Join(root, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	// Usr-merged hosts: /bin, /lib... are symlinks into /usr; mirror them.
	for _, top := range []string{"bin", "sbin", "lib", "lib64"} {
		if target, err := os.Readlink("/" + top); err == nil {
			if err := os.Symlink(target, filepath.Join(root, top)); err != nil {
				t.Fatal(err)
			}
		}
	}
	var status strings.Builder
	for _, p := range hostPackages {
		out, err := exec.Command("dpkg-query", "-s", p).Output()
		Require(t, err == nil, p+" is not installed on the host: the root borrows its dpkg status")
		status.Write(out)
		status.WriteString("\n")
		// Their file lists too: dpkg must know that /lib and the like
		// belong to libc6, or removing kiwistack removes the /lib symlink.
		lists, _ := filepath.Glob("/var/lib/dpkg/info/" + p + ".list")
		arch, _ := filepath.Glob("/var/lib/dpkg/info/" + p + ":*.list")
		for _, l := range append(lists, arch...) {
			b, err := os.ReadFile(l)
			if err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(root, "var/lib/dpkg/info", filepath.Base(l)), b, 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := os.WriteFile(filepath.Join(root, "var/lib/dpkg/status"), []byte(status.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(root, "var/lib/dpkg/available"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := exec.Command("mknod", "-m", "666", filepath.Join(root, "dev/null"), "c", "1", "3").Run(); err != nil {
		t.Fatalf("mknod dev/null: %v", err)
	}
	files := append([]string{}, rootTools...)
	out, err := exec.Command("dpkg", "-L", "perl-base").Output()
	if err != nil {
		t.Fatalf("dpkg -L perl-base: %v", err)
	}
	for _, f := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		if st, err := os.Lstat(f); err == nil && !st.IsDir() && !strings.HasPrefix(f, "/usr/share/") {
			files = append(files, f)
		}
	}
	for _, f := range files {
		copyHostFile(t, root, f)
		if out, err := exec.Command("ldd", f).Output(); err == nil {
			for _, line := range strings.Split(string(out), "\n") {
				fields := strings.Fields(line)
				for _, fld := range fields {
					if strings.HasPrefix(fld, "/") {
						copyHostFile(t, root, fld)
					}
				}
			}
		}
	}
	return root
}

// copyHostFile copies the host's path p into root at the same path,
// following symlinks and recreating the ones on the way.
func copyHostFile(t testing.TB, root, p string) {
	t.Helper()
	real, err := filepath.EvalSymlinks(p)
	if err != nil {
		t.Fatalf("copying %s into the root: %v", p, err)
	}
	dst := filepath.Join(root, real)
	if _, err := os.Lstat(dst); err != nil {
		st, err := os.Stat(real)
		if err != nil {
			t.Fatal(err)
		}
		b, err := os.ReadFile(real)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(dst, b, st.Mode().Perm()); err != nil {
			t.Fatal(err)
		}
	}
	if real == p {
		return
	}
	if st, err := os.Lstat(p); err == nil && st.Mode()&os.ModeSymlink != 0 {
		link := filepath.Join(root, p)
		if _, err := os.Lstat(link); err == nil {
			return
		}
		target, err := os.Readlink(p)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.MkdirAll(filepath.Dir(link), 0o755); err != nil && !os.IsExist(err) {
			t.Fatal(err)
		}
		if err := os.Symlink(target, link); err != nil {
			t.Fatal(err)
		}
		if !filepath.IsAbs(target) {
			copyHostFile(t, root, filepath.Join(filepath.Dir(p), target))
		}
	}
}
