package deb

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/kiwistack/endpoint/packaging/deb/debtest"
	"github.com/kiwistack/endpoint/packaging/internal/pkgtest"
)

// The round trip uses real dpkg with --root on a minimal directory rather
// than a debootstrap chroot: dpkg --root is the same code path apt runs
// (unpack, conffile handling, maintainer scripts chrooted into the root
// with the same arguments), it takes a second instead of minutes and needs
// no mirror. What the root lacks is filled from the host: the shell and
// coreutils the scripts call, perl and deb-systemd-helper (so enablement is
// real), and the host's own dpkg status stanzas for the packages we depend
// on (debtest.MinimalRoot). systemd is not running in the root, so
// start/stop are not exercised.

func TestDpkgRoundTrip(t *testing.T) {
	pkgtest.Require(t, os.Geteuid() == 0, "dpkg --root runs maintainer scripts in a chroot: needs root")
	pkgtest.RequireTool(t, "dpkg", "dpkg")
	pkgtest.RequireTool(t, "ldd", "libc-bin")
	_, err := os.Stat("/usr/bin/deb-systemd-helper")
	pkgtest.Require(t, err == nil, "deb-systemd-helper is not installed (Debian package init-system-helpers)")

	dir := t.TempDir()
	v1 := buildTestDeb(t, "0.1.0", dir)
	v2 := buildTestDeb(t, "0.1.1", dir)
	root := debtest.MinimalRoot(t)
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
