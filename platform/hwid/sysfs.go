package hwid

import (
	"bufio"
	"bytes"
	"errors"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
)

// ReadLinux computes the fingerprint of a Linux machine from the files under
// root ("/" for the running machine; tests pass a fake tree). It reads:
//
//   - sys/class/dmi/id/product_uuid and product_serial; a permission error
//     (they are readable by root only on most systems) skips the source and
//     is recorded in [Fingerprint.Skipped] or the error;
//   - etc/machine-id, or var/lib/dbus/machine-id when that is missing;
//   - the serial of the disk that holds the root file system (found through
//     proc/self/mountinfo and sys/block), or, when that cannot be told, the
//     smallest serial among the non-removable, non-virtual, non-USB disks in
//     sys/block. A disk's serial is read from device/serial (NVMe, eMMC),
//     serial (virtio) or device/vpd_pg80 (SCSI and SATA unit serial page).
//
// ReadLinux is compiled on every OS so that it can be tested anywhere.
func ReadLinux(root string) (Fingerprint, error) {
	return sysfs{root: root, readFile: os.ReadFile}.read()
}

// sysfs reads a Linux file tree under root; readFile is injectable so that
// tests running as root can simulate permission errors.
type sysfs struct {
	root     string
	readFile func(name string) ([]byte, error)
}

// dmiDir is where the kernel exports the SMBIOS system information.
const dmiDir = "/sys/class/dmi/id"

func (s sysfs) path(p string) string { return filepath.Join(s.root, filepath.FromSlash(p)) }

func (s sysfs) read() (Fingerprint, error) {
	var sources []Source
	var skipped []Attempt
	var hints []string
	add := func(name, p string) error {
		b, err := s.readFile(s.path(p))
		if err != nil {
			skipped = append(skipped, Attempt{Source: name, Path: p, Err: reason(err)})
			return err
		}
		sources = append(sources, Source{Name: name, Value: string(b)})
		return nil
	}

	denied := false
	for _, f := range []struct{ name, file string }{
		{SourceDMIProductUUID, "product_uuid"},
		{SourceDMIProductSerial, "product_serial"},
	} {
		if err := add(f.name, path.Join(dmiDir, f.file)); errors.Is(err, fs.ErrPermission) {
			denied = true
		}
	}
	if denied {
		hints = append(hints, "run as root to include the DMI UUID and serial")
	}
	if _, err := os.Stat(s.path(dmiDir)); errors.Is(err, fs.ErrNotExist) {
		hints = append(hints, "this looks like a container or a machine without "+dmiDir)
	}

	if err := add(SourceMachineID, "/etc/machine-id"); err != nil {
		if add(SourceMachineID, "/var/lib/dbus/machine-id") == nil {
			skipped = skipped[:len(skipped)-1] // the fallback worked
		}
	}

	serial, p, err := s.diskSerial()
	if err != nil {
		skipped = append(skipped, Attempt{Source: SourceDiskSerial, Path: p, Err: reason(err)})
	} else {
		sources = append(sources, Source{Name: SourceDiskSerial, Value: serial})
	}
	return build(sources, skipped, hints)
}

// reason shortens file errors to what a user needs: the path is in the
// Attempt already.
func reason(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

// errNoDisk is the reason recorded when no disk qualifies.
var errNoDisk = errors.New("no fixed disk with a readable serial")

// diskSerial returns the serial of the root file system's disk or, when
// that cannot be told, the smallest serial among the candidate disks, with
// the path it was read from.
func (s sysfs) diskSerial() (serial, from string, err error) {
	if d := s.rootDisk(); d != "" && s.candidate(d) {
		serial, from, err := s.serialOf(d)
		if err == nil {
			return serial, from, nil
		}
	}
	entries, err := os.ReadDir(s.path("/sys/block"))
	if err != nil {
		return "", "/sys/block", err
	}
	var best, bestFrom string
	for _, e := range entries {
		if !s.candidate(e.Name()) {
			continue
		}
		v, p, err := s.serialOf(e.Name())
		if err != nil {
			continue
		}
		if best == "" || v < best {
			best, bestFrom = v, p
		}
	}
	if best == "" {
		return "", "/sys/block", errNoDisk
	}
	return best, bestFrom, nil
}

// virtualPrefixes are block devices that are never a machine's own disk.
var virtualPrefixes = []string{"loop", "ram", "zram", "dm-", "md", "sr", "fd", "nbd"}

// candidate reports whether the block device dev can be the machine's disk:
// not virtual, not removable, not on USB.
func (s sysfs) candidate(dev string) bool {
	for _, p := range virtualPrefixes {
		if strings.HasPrefix(dev, p) {
			return false
		}
	}
	dir := s.path(path.Join("/sys/block", dev))
	if b, err := s.readFile(filepath.Join(dir, "removable")); err == nil && strings.TrimSpace(string(b)) == "1" {
		return false
	}
	// On a real system /sys/block/<dev> links into /sys/devices: the
	// target tells virtual and USB devices apart.
	if real, err := filepath.EvalSymlinks(dir); err == nil {
		if root, err := filepath.EvalSymlinks(s.root); err == nil {
			if rel, err := filepath.Rel(root, real); err == nil {
				real = "/" + filepath.ToSlash(rel)
			}
		}
		if strings.Contains(real, "/devices/virtual/") || strings.Contains(real, "/usb") {
			return false
		}
	}
	return true
}

// serialOf reads the serial of the block device dev.
func (s sysfs) serialOf(dev string) (serial, from string, err error) {
	base := path.Join("/sys/block", dev)
	var firstErr error
	for _, f := range []string{"device/serial", "serial"} {
		p := path.Join(base, f)
		b, err := s.readFile(s.path(p))
		if err == nil {
			if v := normalise(SourceDiskSerial, string(b)); !isPlaceholder(v) {
				return v, p, nil
			}
			err = ErrPlaceholder
		}
		if firstErr == nil || errors.Is(firstErr, fs.ErrNotExist) {
			firstErr = err
		}
	}
	p := path.Join(base, "device/vpd_pg80")
	b, err := s.readFile(s.path(p))
	if err == nil {
		v, err := parseVPD80(b)
		if err == nil && !isPlaceholder(v) {
			return v, p, nil
		}
		if err == nil {
			err = ErrPlaceholder
		}
		return "", p, err
	}
	if !errors.Is(err, fs.ErrNotExist) {
		firstErr = err
	}
	return "", base, firstErr
}

// parseVPD80 returns the product serial number from a SCSI Unit Serial
// Number VPD page (0x80): a 4-byte header whose bytes 2 and 3 are the page
// length, then that many bytes of ASCII.
func parseVPD80(b []byte) (string, error) {
	if len(b) < 4 || b[1] != 0x80 {
		return "", errors.New("not a unit serial number page")
	}
	n := int(b[2])<<8 | int(b[3])
	body := b[4:]
	if n < len(body) {
		body = body[:n]
	}
	v := string(bytes.Trim(body, " \x00"))
	for i := 0; i < len(v); i++ {
		if v[i] < 0x20 || v[i] > 0x7e {
			return "", errors.New("unit serial number is not printable ASCII")
		}
	}
	return v, nil
}

// rootDisk returns the name of the disk under /sys/block that holds the root
// file system, following device-mapper and md devices to the disk below
// them, or "" when that cannot be told (overlay, btrfs, network roots).
func (s sysfs) rootDisk() string {
	b, err := s.readFile(s.path("/proc/self/mountinfo"))
	if err != nil {
		return ""
	}
	var dev string
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) >= 5 && f[4] == "/" {
			dev = f[2] // the last mount on / wins
		}
	}
	if dev == "" || strings.HasPrefix(dev, "0:") {
		return ""
	}
	name := s.blockByDev(dev)
	for range 4 {
		if name == "" || !slices.ContainsFunc([]string{"dm-", "md"}, func(p string) bool { return strings.HasPrefix(name, p) }) {
			return name
		}
		slaves, err := os.ReadDir(s.path(path.Join("/sys/block", name, "slaves")))
		if err != nil || len(slaves) == 0 {
			return ""
		}
		name = s.diskOf(slaves[0].Name())
	}
	return ""
}

// blockByDev returns the disk whose dev file, or whose partition's dev file,
// holds majmin ("8:2").
func (s sysfs) blockByDev(majmin string) string {
	disks, err := os.ReadDir(s.path("/sys/block"))
	if err != nil {
		return ""
	}
	for _, d := range disks {
		dir := path.Join("/sys/block", d.Name())
		if s.devIs(path.Join(dir, "dev"), majmin) {
			return d.Name()
		}
		parts, _ := os.ReadDir(s.path(dir))
		for _, p := range parts {
			if strings.HasPrefix(p.Name(), d.Name()) && s.devIs(path.Join(dir, p.Name(), "dev"), majmin) {
				return d.Name()
			}
		}
	}
	return ""
}

func (s sysfs) devIs(p, majmin string) bool {
	b, err := s.readFile(s.path(p))
	return err == nil && strings.TrimSpace(string(b)) == majmin
}

// diskOf returns the disk under /sys/block that is, or holds the partition,
// name.
func (s sysfs) diskOf(name string) string {
	if _, err := os.Stat(s.path(path.Join("/sys/block", name))); err == nil {
		return name
	}
	disks, _ := os.ReadDir(s.path("/sys/block"))
	for _, d := range disks {
		if _, err := os.Stat(s.path(path.Join("/sys/block", d.Name(), name))); err == nil {
			return d.Name()
		}
	}
	return ""
}
