package deb

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// The round trip uses real dpkg with --root on a minimal directory rather
// than a debootstrap chroot: dpkg --root is the same code path apt runs
// (unpack, conffile handling, maintainer scripts chrooted into the root
// with the same arguments), it takes a second instead of minutes and needs
// no mirror. What the root lacks is filled from the host: the shell and
// coreutils the scripts call, perl and deb-systemd-helper (so enablement is
// real), and the host's own dpkg status stanzas for the packages we depend
// on. systemd is not running in the root, so start/stop are not exercised.

// hostPackages are the host's packages whose status the root copies, so
// that kiwistack's Depends are satisfied as on a real system.
var hostPackages = []string{"libc6", "libpcsclite1", "pcscd"}

// rootTools are the programs the maintainer scripts run in the root.
var rootTools = []string{"/bin/sh", "/usr/bin/mkdir", "/usr/bin/chmod", "/usr/bin/rm", "/usr/bin/perl",
	"/usr/bin/deb-systemd-helper", "/usr/bin/deb-systemd-invoke"}

func TestDpkgRoundTrip(t *testing.T) {
	require(t, os.Geteuid() == 0, "dpkg --root runs maintainer scripts in a chroot: needs root")
	requireTool(t, "dpkg", "dpkg")
	requireTool(t, "ldd", "libc-bin")
	_, err := os.Stat("/usr/bin/deb-systemd-helper")
	require(t, err == nil, "deb-systemd-helper is not installed (Debian package init-system-helpers)")

	dir := t.TempDir()
	v1 := buildTestDeb(t, "0.1.0", dir)
	v2 := buildTestDeb(t, "0.1.1", dir)
	root := minimalRoot(t)
	dpkg := func(args ...string) {
		t.Helper()
		cmd := exec.Command("dpkg", append([]string{"--root=" + root, "--log=/dev/null"}, args...)...)
		cmd.Env = append(os.Environ(), "PATH=/usr/sbin:/usr/bin:/sbin:/bin")
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("dpkg %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
	at := func(p string) string { return filepath.Join(root, p) }
	wantMode := func(p string, mode os.FileMode) {
		t.Helper()
		st, err := os.Stat(at(p))
		if err != nil {
			t.Errorf("%s: %v", p, err)
			return
		}
		if st.Mode().Perm() != mode {
			t.Errorf("%s has mode %o, want %o", p, st.Mode().Perm(), mode)
		}
	}
	wantGone := func(p string) {
		t.Helper()
		if _, err := os.Lstat(at(p)); err == nil {
			t.Errorf("%s is still there", p)
		}
	}
	wantStatus := func(want string) {
		t.Helper()
		out, _ := exec.Command("dpkg-query", "--root="+root, "-W", "-f=${Status} ${Version}", Name).Output()
		if string(out) != want {
			t.Errorf("dpkg-query: %q, want %q", out, want)
		}
	}
	enabled := "/etc/systemd/system/multi-user.target.wants/" + UnitName

	// Install v1: files, modes, unit enabled, state directory private.
	dpkg("-i", v1)
	wantStatus("install ok installed 0.1.0")
	wantMode(EnrollPath, 0o755)
	wantMode(AgentPath, 0o755)
	wantMode(UnitPath, 0o644)
	wantMode(ConfigPath, 0o644)
	wantMode(DocDir+"/copyright", 0o644)
	wantMode(StateDir, 0o700)
	if target, err := os.Readlink(at(enabled)); err != nil || target != UnitPath {
		t.Errorf("unit not enabled: %s -> %q, %v", enabled, target, err)
	}

	// Between v1 and v2 the device enrolls: state and a customised config.
	state := filepath.Join(StateDir, "device.json")
	if err := os.WriteFile(at(state), []byte(`{"enrolled":true}`), 0o600); err != nil {
		t.Fatal(err)
	}
	custom := []byte("tenant_api: \"https://acme.example\"\ntenant: \"acme\"\nroot_fingerprint: \"ab\"\n")
	if err := os.WriteFile(at(ConfigPath), custom, 0o644); err != nil {
		t.Fatal(err)
	}

	// Upgrade to v2 (stdin closed: a conffile prompt would fail, not hang).
	dpkg("-i", v2)
	wantStatus("install ok installed 0.1.1")
	if b, err := os.ReadFile(at(state)); err != nil || string(b) != `{"enrolled":true}` {
		t.Errorf("state after upgrade: %q, %v", b, err)
	}
	if b, err := os.ReadFile(at(ConfigPath)); err != nil || string(b) != string(custom) {
		t.Errorf("customised conffile after upgrade: %q, %v", b, err)
	}
	if _, err := os.Readlink(at(enabled)); err != nil {
		t.Errorf("unit not enabled after upgrade: %v", err)
	}

	// Remove: programs and unit gone, state and configuration kept.
	dpkg("--remove", Name)
	wantStatus("deinstall ok config-files 0.1.1")
	wantGone(EnrollPath)
	wantGone(AgentPath)
	wantGone(UnitPath)
	if _, err := os.Stat(at(state)); err != nil {
		t.Errorf("state after remove: %v", err)
	}
	if _, err := os.Stat(at(ConfigPath)); err != nil {
		t.Errorf("conffile after remove: %v", err)
	}

	// Purge: state, configuration and enablement gone.
	dpkg("--purge", Name)
	wantGone(StateDir)
	wantGone(ConfigDir)
	wantGone(enabled)
	wantGone("/etc/systemd/system/" + UnitName) // no mask left behind
}

// minimalRoot makes a directory dpkg --root can install into: dpkg's
// database, the host's status for hostPackages, and rootTools with their
// libraries and perl's modules.
func minimalRoot(t *testing.T) string {
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
		require(t, err == nil, p+" is not installed on the host: the root borrows its dpkg status")
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
func copyHostFile(t *testing.T, root, p string) {
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
