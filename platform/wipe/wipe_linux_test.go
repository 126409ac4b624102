package wipe

import (
	"errors"
	"os"
	"path/filepath"
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
