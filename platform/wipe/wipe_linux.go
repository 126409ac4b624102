package wipe

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// wipeOS erases the key slots of the LUKS device under / and checks that
// none is left.
func wipeOS(ctx context.Context, o Options) error {
	dev := o.Device
	if dev == "" {
		var err error
		if dev, err = RootLUKSDevice(o.Root); err != nil {
			return err
		}
	}
	if _, err := o.Run(ctx, LUKSEraseCommand(dev)); err != nil {
		return fmt.Errorf("erasing the LUKS key slots of %s: %w", dev, err)
	}
	dump, err := o.Run(ctx, LUKSDumpCommand(dev))
	if err != nil {
		return fmt.Errorf("checking the LUKS header of %s: %w", dev, err)
	}
	if n := KeySlots(dump); n != 0 {
		return fmt.Errorf("%s still has %d LUKS key slots after luksErase", dev, n)
	}
	return nil
}

// RootLUKSDevice finds the LUKS device that holds the file system mounted
// at / (through LVM or other device-mapper layers), reading
// root/proc/self/mountinfo and root/sys. ErrNotEncrypted if there is none.
func RootLUKSDevice(root string) (string, error) {
	if root == "" {
		root = "/"
	}
	mi, err := os.ReadFile(filepath.Join(root, "proc", "self", "mountinfo"))
	if err != nil {
		return "", fmt.Errorf("finding the root volume: %w", err)
	}
	majmin := ""
	for line := range strings.Lines(string(mi)) {
		// id parent major:minor root mount-point …
		if f := strings.Fields(line); len(f) > 4 && f[4] == "/" {
			majmin = f[2]
		}
	}
	if majmin == "" {
		return "", errors.New("finding the root volume: / is not in mountinfo")
	}
	sys := filepath.Join(root, "sys")
	dir, err := filepath.EvalSymlinks(filepath.Join(sys, "dev", "block", majmin))
	if err != nil {
		return "", fmt.Errorf("root volume %s: %w", majmin, ErrNotEncrypted)
	}
	if dev := luksBacking(dir, 0); dev != "" {
		return dev, nil
	}
	return "", fmt.Errorf("root volume %s: %w", majmin, ErrNotEncrypted)
}

// luksBacking walks from the block device at dir (a sysfs directory) down
// its slaves to a dm-crypt LUKS mapping and returns the device under it,
// "" if there is none.
func luksBacking(dir string, depth int) string {
	if depth > 8 {
		return ""
	}
	slaves, err := os.ReadDir(filepath.Join(dir, "slaves"))
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return ""
	}
	uuid, _ := os.ReadFile(filepath.Join(dir, "dm", "uuid"))
	if strings.HasPrefix(string(uuid), "CRYPT-LUKS") && len(slaves) == 1 {
		return "/dev/" + slaves[0].Name()
	}
	for _, s := range slaves {
		next, err := filepath.EvalSymlinks(filepath.Join(dir, "slaves", s.Name()))
		if err != nil {
			continue
		}
		if dev := luksBacking(next, depth+1); dev != "" {
			return dev
		}
	}
	return ""
}
