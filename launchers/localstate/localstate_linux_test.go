package localstate

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
	"testing"
)

// testHome returns a home directory and its owner: uid/gid 65534 (nobody)
// when the test runs as root, so that ownership is really handed over,
// else the test's own user.
func testHome(t *testing.T) (string, Owner) {
	t.Helper()
	home := t.TempDir()
	o := Owner{UID: os.Getuid(), GID: os.Getgid()}
	if os.Geteuid() == 0 {
		o = Owner{UID: 65534, GID: 65534}
		if err := os.Chown(home, o.UID, o.GID); err != nil {
			t.Fatal(err)
		}
	}
	return home, o
}

func statOwner(t *testing.T, p string) (uint32, uint32, os.FileMode) {
	t.Helper()
	fi, err := os.Lstat(p)
	if err != nil {
		t.Fatal(err)
	}
	st := fi.Sys().(*syscall.Stat_t)
	return st.Uid, st.Gid, fi.Mode()
}

// A fresh home gets every user-data directory (0700) and a Local State
// (0600) holding the flag, all owned by the user; a second run changes
// nothing; an existing Local State keeps its other keys.
func TestSeedHome(t *testing.T) {
	home, o := testHome(t)
	res, err := SeedHome(home, o, LinuxUserDataDirs)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range res {
		if r.Err != nil || !r.Changed {
			t.Errorf("%s: changed %v, %v", r.Dir, r.Changed, r.Err)
		}
		file := filepath.Join(home, r.Dir, FileName)
		b, err := os.ReadFile(file)
		if err != nil || string(b) != `{"net":{"received_http_auth_negotiate_headers":true}}` {
			t.Errorf("%s: %q %v", file, b, err)
		}
		uid, gid, mode := statOwner(t, file)
		if int(uid) != o.UID || int(gid) != o.GID || mode.Perm() != 0o600 {
			t.Errorf("%s: %d:%d %v, want %d:%d 0600", file, uid, gid, mode, o.UID, o.GID)
		}
		for d := filepath.Join(home, r.Dir); d != home; d = filepath.Dir(d) {
			uid, _, mode := statOwner(t, d)
			if int(uid) != o.UID || !mode.IsDir() {
				t.Errorf("%s: uid %d %v", d, uid, mode)
			}
		}
		if _, _, mode := statOwner(t, filepath.Join(home, r.Dir)); mode.Perm() != 0o700 {
			t.Errorf("%s: %v, want 0700", r.Dir, mode)
		}
	}
	res, err = SeedHome(home, o, LinuxUserDataDirs)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range res {
		if r.Err != nil || r.Changed {
			t.Errorf("second run, %s: changed %v, %v", r.Dir, r.Changed, r.Err)
		}
	}

	file := filepath.Join(home, LinuxUserDataDirs[0], FileName)
	writeAs(t, file, `{"profile":{"last_used":"Work"},"net":{"received_http_auth_negotiate_headers":false}}`, o)
	if res, _ := SeedHome(home, o, LinuxUserDataDirs[:1]); res[0].Err != nil || !res[0].Changed {
		t.Fatalf("%+v", res)
	}
	if b, _ := os.ReadFile(file); string(b) != `{"net":{"received_http_auth_negotiate_headers":true},"profile":{"last_used":"Work"}}` {
		t.Errorf("merged: %s", b)
	}
	if left, _ := filepath.Glob(filepath.Join(home, LinuxUserDataDirs[0], ".Local State.*")); len(left) != 0 {
		t.Errorf("temporary files left: %v", left)
	}
}

func writeAs(t *testing.T, p, data string, o Owner) {
	t.Helper()
	if err := os.WriteFile(p, []byte(data), 0o600); err != nil {
		t.Fatal(err)
	}
	if os.Geteuid() == 0 {
		if err := os.Lchown(p, o.UID, o.GID); err != nil {
			t.Fatal(err)
		}
	}
}

// What SeedHome must leave alone, byte for byte: a Local State it cannot
// parse, one under a running browser, and anything reached through a
// symbolic link.
func TestSeedHomeLeavesAlone(t *testing.T) {
	t.Run("garbage", func(t *testing.T) {
		home, o := testHome(t)
		dir := filepath.Join(home, "ud")
		mkdirAs(t, dir, o)
		writeAs(t, filepath.Join(dir, FileName), "not json", o)
		res, err := SeedHome(home, o, []string{"ud"})
		if err != nil || !errors.Is(res[0].Err, ErrInvalid) || res[0].Changed {
			t.Fatalf("%+v %v", res, err)
		}
		if b, _ := os.ReadFile(filepath.Join(dir, FileName)); string(b) != "not json" {
			t.Errorf("changed to %q", b)
		}
	})
	t.Run("running browser", func(t *testing.T) {
		home, o := testHome(t)
		dir := filepath.Join(home, "ud")
		mkdirAs(t, dir, o)
		host, _ := os.Hostname()
		if err := os.Symlink(fmt.Sprintf("%s-%d", host, os.Getpid()), filepath.Join(dir, "SingletonLock")); err != nil {
			t.Fatal(err)
		}
		res, err := SeedHome(home, o, []string{"ud"})
		if err != nil || !errors.Is(res[0].Err, ErrBrowserRunning) {
			t.Fatalf("%+v %v", res, err)
		}
		if _, err := os.Stat(filepath.Join(dir, FileName)); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("Local State written under a running browser: %v", err)
		}
		// A stale lock (a process that is gone) does not stop it.
		os.Remove(filepath.Join(dir, "SingletonLock"))
		if err := os.Symlink(host+"-2147483646", filepath.Join(dir, "SingletonLock")); err != nil {
			t.Fatal(err)
		}
		if res, _ := SeedHome(home, o, []string{"ud"}); res[0].Err != nil || !res[0].Changed {
			t.Errorf("stale lock: %+v", res)
		}
	})
	t.Run("symlinks", func(t *testing.T) {
		home, o := testHome(t)
		elsewhere := t.TempDir()
		if err := os.Symlink(elsewhere, filepath.Join(home, ".config")); err != nil {
			t.Fatal(err)
		}
		res, err := SeedHome(home, o, []string{".config/chromium"})
		if err != nil || !errors.Is(res[0].Err, ErrNotOwned) {
			t.Fatalf("directory symlink: %+v %v", res, err)
		}
		dir := filepath.Join(home, "ud")
		mkdirAs(t, dir, o)
		target := filepath.Join(elsewhere, "target")
		if err := os.WriteFile(target, []byte("{}"), 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.Symlink(target, filepath.Join(dir, FileName)); err != nil {
			t.Fatal(err)
		}
		res, err = SeedHome(home, o, []string{"ud"})
		if err != nil || !errors.Is(res[0].Err, ErrNotOwned) {
			t.Fatalf("file symlink: %+v %v", res, err)
		}
		if b, _ := os.ReadFile(target); string(b) != "{}" {
			t.Errorf("the symlink's target changed: %q", b)
		}
		if entries, _ := os.ReadDir(elsewhere); len(entries) != 1 {
			t.Errorf("files appeared through the symlink: %v", entries)
		}
		if _, err := SeedHome(filepath.Join(home, ".config"), o, []string{"x"}); err == nil {
			t.Error("a home that is a symbolic link was used")
		}
	})
	t.Run("not the user's", func(t *testing.T) {
		if os.Geteuid() != 0 {
			t.Skip("needs root to make a directory someone else's")
		}
		home, o := testHome(t)
		if err := os.Mkdir(filepath.Join(home, "ud"), 0o755); err != nil { // root's
			t.Fatal(err)
		}
		res, err := SeedHome(home, o, []string{"ud"})
		if err != nil || !errors.Is(res[0].Err, ErrNotOwned) {
			t.Fatalf("%+v %v", res, err)
		}
	})
	t.Run("bad relative paths", func(t *testing.T) {
		home, o := testHome(t)
		res, err := SeedHome(home, o, []string{"../x", "/abs", "a//b", ""})
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range res {
			if r.Err == nil {
				t.Errorf("%q accepted", r.Dir)
			}
		}
	})
}

func mkdirAs(t *testing.T, p string, o Owner) {
	t.Helper()
	if err := os.Mkdir(p, 0o700); err != nil {
		t.Fatal(err)
	}
	if os.Geteuid() == 0 {
		if err := os.Chown(p, o.UID, o.GID); err != nil {
			t.Fatal(err)
		}
	}
}
