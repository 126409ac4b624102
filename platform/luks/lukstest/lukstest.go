// Package lukstest makes a real LUKS2 volume for tests: a file, a loop
// device on it and luksFormat with a random key file and a fast PBKDF.
// It needs root, /dev/loop-control and cryptsetup, and fails the test
// with what is missing (scripts/install-test-deps installs cryptsetup).
package lukstest

import (
	"context"
	"crypto/rand"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/kiwistack/endpoint/platform/luks"
	"github.com/kiwistack/endpoint/test/pcsctest"
)

// FastPBKDF are luksFormat / luksAddKey options for a quick key
// derivation (tests only: production keeps argon2id).
var FastPBKDF = []string{"--pbkdf", "pbkdf2", "--pbkdf-force-iterations", "1000"}

// Volume is a loop-device LUKS volume.
type Volume struct {
	// Device is the loop device, KeyFile the key file of slot 0.
	Device, KeyFile string
}

// Require skips without loop devices (or fails, when
// KIWISTACK_REQUIRE_HW_TESTS=1 as make test and CI set it) and fails
// without root or cryptsetup, saying why.
func Require(t testing.TB) {
	t.Helper()
	if _, err := os.Stat("/dev/loop-control"); err != nil {
		if os.Getenv(pcsctest.RequireEnv) == "1" {
			t.Fatal("no /dev/loop-control: this kernel or container has no loop devices, and " + pcsctest.RequireEnv + "=1")
		}
		t.Skip("no /dev/loop-control: this kernel or container has no loop devices")
	}
	if os.Geteuid() != 0 {
		t.Fatal("losetup and cryptsetup on a loop device need root: run make test as root")
	}
	if _, err := luks.Exec(context.Background(), []string{"cryptsetup", "--version"}, nil); err != nil {
		t.Fatal("cryptsetup is missing: run scripts/install-test-deps (cryptsetup-bin)")
	}
}

// New makes a volume of format ("luks2", "luks1", or "" for none: a
// plain file of zeros); the loop device is detached at the test's end.
func New(t testing.TB, format string) Volume {
	t.Helper()
	Require(t)
	ctx := context.Background()
	dir := t.TempDir()
	img, keyFile := filepath.Join(dir, "disk.img"), filepath.Join(dir, "disk.key")
	key := make([]byte, 64)
	_, _ = rand.Read(key)
	if err := os.WriteFile(keyFile, key, 0o600); err != nil {
		t.Fatal(err)
	}
	run := func(argv ...string) []byte {
		t.Helper()
		out, err := luks.Exec(ctx, argv, nil)
		if err != nil {
			t.Fatal(err)
		}
		return out
	}
	run("truncate", "-s", "32M", img)
	loop := strings.TrimSpace(string(run("losetup", "--find", "--show", img)))
	t.Cleanup(func() { _, _ = luks.Exec(context.Background(), []string{"losetup", "--detach", loop}, nil) })
	if format != "" {
		run(append(append([]string{"cryptsetup", "luksFormat", "--batch-mode", "--type", format}, FastPBKDF...), "--key-file", keyFile, loop)...)
	}
	return Volume{Device: loop, KeyFile: keyFile}
}
