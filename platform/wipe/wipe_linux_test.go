package wipe

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestRootLUKSDevice finds the LUKS device under / in sandbox proc and sys
// trees shaped like the kernel's: / on LVM (dm-1) on dm-crypt (dm-0) on
// nvme0n1p3.
func TestRootLUKSDevice(t *testing.T) {
	root := t.TempDir()
	write := func(p, s string) {
		t.Helper()
		p = filepath.Join(root, p)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	link := func(target, p string) {
		t.Helper()
		p = filepath.Join(root, p)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.Symlink(target, p); err != nil {
			t.Fatal(err)
		}
	}
	write("proc/self/mountinfo", "22 1 253:1 / / rw,relatime shared:1 - ext4 /dev/mapper/vg-root rw\n"+
		"23 22 259:1 / /boot rw - ext4 /dev/nvme0n1p2 rw\n")
	blk := "sys/devices/virtual/block"
	write(blk+"/dm-1/dm/uuid", "LVM-abc\n")
	write(blk+"/dm-0/dm/uuid", "CRYPT-LUKS2-219d2eeef1264dc0956a37f17b4ccb9f-luks-root\n")
	write("sys/devices/pci/nvme/nvme0n1/nvme0n1p3/dev", "259:3\n")
	link("../../dm-0", blk+"/dm-1/slaves/dm-0")
	link("../../../../pci/nvme/nvme0n1/nvme0n1p3", blk+"/dm-0/slaves/nvme0n1p3")
	link("../../devices/virtual/block/dm-1", "sys/dev/block/253:1")
	dev, err := RootLUKSDevice(root)
	if err != nil || dev != "/dev/nvme0n1p3" {
		t.Fatalf("RootLUKSDevice = %q, %v; want /dev/nvme0n1p3", dev, err)
	}
	// / straight on a partition: not encrypted.
	write("proc/self/mountinfo", "22 1 259:2 / / rw - ext4 /dev/nvme0n1p2 rw\n")
	link("../../devices/pci/nvme/nvme0n1/nvme0n1p3", "sys/dev/block/259:2")
	if _, err := RootLUKSDevice(root); !errors.Is(err, ErrNotEncrypted) {
		t.Errorf("unencrypted root: %v", err)
	}
}

// TestWipeLUKS wipes a real LUKS2 volume in a loop-device file: after Wipe
// luksDump shows no key slot and the key no longer opens it.
func TestWipeLUKS(t *testing.T) {
	if _, err := os.Stat("/dev/loop-control"); err != nil {
		t.Skip("no /dev/loop-control: this kernel or container has no loop devices")
	}
	if os.Geteuid() != 0 {
		t.Fatal("losetup and cryptsetup on a loop device need root: run make test as root")
	}
	if _, err := exec.LookPath("cryptsetup"); err != nil {
		t.Fatal("cryptsetup is missing: run scripts/install-test-deps (cryptsetup-bin)")
	}
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
		out, err := Exec(ctx, argv)
		if err != nil {
			t.Fatal(err)
		}
		return out
	}
	run("truncate", "-s", "32M", img)
	loop := strings.TrimSpace(string(run("losetup", "--find", "--show", img)))
	t.Cleanup(func() { _, _ = Exec(context.Background(), []string{"losetup", "--detach", loop}) })
	run("cryptsetup", "luksFormat", "--batch-mode", "--type", "luks2", "--pbkdf", "pbkdf2", "--pbkdf-force-iterations", "1000",
		"--key-file", keyFile, loop)
	if n := KeySlots(run("cryptsetup", "luksDump", loop)); n != 1 {
		t.Fatalf("a new volume has %d key slots, want 1", n)
	}
	run("cryptsetup", "open", "--test-passphrase", "--key-file", keyFile, loop)

	if err := Wipe(ctx, Options{Device: loop}); err != nil {
		t.Fatal(err)
	}
	dump := run("cryptsetup", "luksDump", loop)
	if n := KeySlots(dump); n != 0 || !bytes.Contains(dump, []byte("Keyslots:\nTokens:")) {
		t.Errorf("after the wipe %d key slots:\n%s", n, dump)
	}
	if out, err := Exec(ctx, []string{"cryptsetup", "open", "--test-passphrase", "--key-file", keyFile, loop}); err == nil {
		t.Errorf("the key still opens the wiped volume: %s", out)
	}
}
