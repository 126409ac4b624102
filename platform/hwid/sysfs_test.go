package hwid

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// fakeRoot writes files (path → content; a content starting with "->" makes
// a symbolic link to the rest) under a new temporary directory.
func fakeRoot(t *testing.T, files map[string]string) string {
	t.Helper()
	root := t.TempDir()
	for name, content := range files {
		p := filepath.Join(root, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if target, ok := strings.CutPrefix(content, "->"); ok {
			if err := os.Symlink(target, p); err != nil {
				t.Fatal(err)
			}
			continue
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return root
}

// merge returns a copy of base with extra added; an empty value in extra
// removes the file.
func merge(base map[string]string, extra map[string]string) map[string]string {
	m := map[string]string{}
	for k, v := range base {
		m[k] = v
	}
	for k, v := range extra {
		if v == "" {
			delete(m, k)
			continue
		}
		m[k] = v
	}
	return m
}

const (
	dmiUUID   = "4C4C4544-0042-3510-8052-B4C04F4E3732\n"
	dmiSerial = "5R2NV32\n"
	machineID = "3d1219c7c4c5404aaa1f6d2a48adfda4\n"
)

// vpd80 builds a SCSI unit serial number page.
func vpd80(serial string) string {
	return string([]byte{0, 0x80, 0, byte(len(serial))}) + serial
}

// laptop is an NVMe laptop whose root file system is on nvme0n1p2.
var laptop = map[string]string{
	"sys/class/dmi/id/product_uuid":   dmiUUID,
	"sys/class/dmi/id/product_serial": dmiSerial,
	"etc/machine-id":                  machineID,
	"proc/self/mountinfo": "22 27 0:21 / /proc rw,relatime - proc proc rw\n" +
		"27 1 259:2 / / rw,relatime - ext4 /dev/nvme0n1p2 rw\n",
	"sys/block/nvme0n1/dev":              "259:0\n",
	"sys/block/nvme0n1/removable":        "0\n",
	"sys/block/nvme0n1/device/serial":    "S4EWNX0R123456      \n",
	"sys/block/nvme0n1/nvme0n1p1/dev":    "259:1\n",
	"sys/block/nvme0n1/nvme0n1p2/dev":    "259:2\n",
	"sys/block/loop0/dev":                "7:0\n",
	"sys/block/zram0/dev":                "252:0\n",
	"sys/block/nvme0n1/queue/rotational": "0\n",
}

func TestReadLinux(t *testing.T) {
	permission := func(name string) func(string) ([]byte, error) {
		return func(p string) ([]byte, error) {
			if strings.HasSuffix(filepath.ToSlash(p), name) {
				return nil, &fs.PathError{Op: "open", Path: p, Err: fs.ErrPermission}
			}
			return os.ReadFile(p)
		}
	}
	tests := []struct {
		name     string
		files    map[string]string
		readFile func(string) ([]byte, error) // nil: os.ReadFile
		want     map[string]string            // source name → value
		skipped  []string                     // source names in Skipped
		err      []string                     // substrings of the error; nil: no error
	}{{
		name:  "full nvme laptop",
		files: laptop,
		want: map[string]string{
			SourceDMIProductUUID:   "4c4c4544-0042-3510-8052-b4c04f4e3732",
			SourceDMIProductSerial: "5R2NV32",
			SourceMachineID:        "3d1219c7c4c5404aaa1f6d2a48adfda4",
			SourceDiskSerial:       "S4EWNX0R123456",
		},
	}, {
		name: "sata disk serial from vpd page 80",
		files: merge(laptop, map[string]string{
			"proc/self/mountinfo":                "27 1 8:2 / / rw - ext4 /dev/sda2 rw\n",
			"sys/block/nvme0n1/dev":              "",
			"sys/block/nvme0n1/removable":        "",
			"sys/block/nvme0n1/device/serial":    "",
			"sys/block/nvme0n1/nvme0n1p1/dev":    "",
			"sys/block/nvme0n1/nvme0n1p2/dev":    "",
			"sys/block/nvme0n1/queue/rotational": "",
			"sys/block/sda/dev":                  "8:0\n",
			"sys/block/sda/removable":            "0\n",
			"sys/block/sda/sda2/dev":             "8:2\n",
			"sys/block/sda/device/vpd_pg80":      vpd80("WD-WCC4N1234567"),
		}),
		want: map[string]string{
			SourceDMIProductUUID:   "4c4c4544-0042-3510-8052-b4c04f4e3732",
			SourceDMIProductSerial: "5R2NV32",
			SourceMachineID:        "3d1219c7c4c5404aaa1f6d2a48adfda4",
			SourceDiskSerial:       "WD-WCC4N1234567",
		},
	}, {
		name: "root disk wins over a smaller serial",
		files: merge(laptop, map[string]string{
			"proc/self/mountinfo":           "27 1 8:1 / / rw - ext4 /dev/sda1 rw\n",
			"sys/block/sda/dev":             "8:0\n",
			"sys/block/sda/sda1/dev":        "8:1\n",
			"sys/block/sda/device/vpd_pg80": vpd80("ZZZ999"),
		}),
		want: map[string]string{
			SourceDMIProductUUID:   "4c4c4544-0042-3510-8052-b4c04f4e3732",
			SourceDMIProductSerial: "5R2NV32",
			SourceMachineID:        "3d1219c7c4c5404aaa1f6d2a48adfda4",
			SourceDiskSerial:       "ZZZ999",
		},
	}, {
		name: "root on lvm follows dm slaves to the disk",
		files: merge(laptop, map[string]string{
			"proc/self/mountinfo":            "27 1 253:0 / / rw - ext4 /dev/mapper/vg-root rw\n",
			"sys/block/dm-0/dev":             "253:0\n",
			"sys/block/dm-0/slaves/sda3/dev": "8:3\n",
			"sys/block/sda/dev":              "8:0\n",
			"sys/block/sda/sda3/dev":         "8:3\n",
			"sys/block/sda/device/vpd_pg80":  vpd80("ZZZ999"),
		}),
		want: map[string]string{
			SourceDMIProductUUID:   "4c4c4544-0042-3510-8052-b4c04f4e3732",
			SourceDMIProductSerial: "5R2NV32",
			SourceMachineID:        "3d1219c7c4c5404aaa1f6d2a48adfda4",
			SourceDiskSerial:       "ZZZ999",
		},
	}, {
		name: "virtio disk serial, root not determinable",
		files: merge(laptop, map[string]string{
			"proc/self/mountinfo":             "27 1 0:31 / / rw - overlay overlay rw\n",
			"sys/block/nvme0n1/device/serial": "",
			"sys/block/vda/serial":            "virtio-serial-1\n",
		}),
		want: map[string]string{
			SourceDMIProductUUID:   "4c4c4544-0042-3510-8052-b4c04f4e3732",
			SourceDMIProductSerial: "5R2NV32",
			SourceMachineID:        "3d1219c7c4c5404aaa1f6d2a48adfda4",
			SourceDiskSerial:       "virtio-serial-1",
		},
	}, {
		name: "removable and usb disks ignored",
		files: merge(laptop, map[string]string{
			"proc/self/mountinfo":             "",
			"sys/block/nvme0n1/device/serial": "",
			"sys/block/sdb/removable":         "1\n",
			"sys/block/sdb/device/vpd_pg80":   vpd80("AAA-USB-STICK"),
			"sys/devices/pci0000:00/0000:00:14.0/usb2/2-1/2-1:1.0/host0/target0:0:0/0:0:0:0/block/sdc/removable":       "0\n",
			"sys/devices/pci0000:00/0000:00:14.0/usb2/2-1/2-1:1.0/host0/target0:0:0/0:0:0:0/block/sdc/device/vpd_pg80": vpd80("AAA-USB-HDD"),
			"sys/block/sdc": "->../devices/pci0000:00/0000:00:14.0/usb2/2-1/2-1:1.0/host0/target0:0:0/0:0:0:0/block/sdc",
			"sys/devices/pci0000:00/0000:00:17.0/ata1/host1/target1:0:0/1:0:0:0/block/sda/removable":       "0\n",
			"sys/devices/pci0000:00/0000:00:17.0/ata1/host1/target1:0:0/1:0:0:0/block/sda/device/vpd_pg80": vpd80("BBB-INTERNAL"),
			"sys/block/sda":                          "->../devices/pci0000:00/0000:00:17.0/ata1/host1/target1:0:0/1:0:0:0/block/sda",
			"sys/devices/virtual/block/loop9/serial": "AAA-LOOP\n",
			"sys/block/xloop9":                       "->../devices/virtual/block/loop9",
		}),
		want: map[string]string{
			SourceDMIProductUUID:   "4c4c4544-0042-3510-8052-b4c04f4e3732",
			SourceDMIProductSerial: "5R2NV32",
			SourceMachineID:        "3d1219c7c4c5404aaa1f6d2a48adfda4",
			SourceDiskSerial:       "BBB-INTERNAL",
		},
	}, {
		name: "container without dmi or disks",
		files: map[string]string{
			"etc/machine-id": machineID,
		},
		want:    map[string]string{SourceMachineID: "3d1219c7c4c5404aaa1f6d2a48adfda4"},
		skipped: []string{SourceDMIProductUUID, SourceDMIProductSerial, SourceDiskSerial},
	}, {
		name: "machine-id from dbus",
		files: merge(laptop, map[string]string{
			"etc/machine-id":          "",
			"var/lib/dbus/machine-id": machineID,
		}),
		want: map[string]string{
			SourceDMIProductUUID:   "4c4c4544-0042-3510-8052-b4c04f4e3732",
			SourceDMIProductSerial: "5R2NV32",
			SourceMachineID:        "3d1219c7c4c5404aaa1f6d2a48adfda4",
			SourceDiskSerial:       "S4EWNX0R123456",
		},
	}, {
		name:     "product_serial permission denied",
		files:    laptop,
		readFile: permission("/sys/class/dmi/id/product_serial"),
		want: map[string]string{
			SourceDMIProductUUID: "4c4c4544-0042-3510-8052-b4c04f4e3732",
			SourceMachineID:      "3d1219c7c4c5404aaa1f6d2a48adfda4",
			SourceDiskSerial:     "S4EWNX0R123456",
		},
		skipped: []string{SourceDMIProductSerial},
	}, {
		name: "junk firmware values ignored",
		files: merge(laptop, map[string]string{
			"sys/class/dmi/id/product_uuid":   "03000200-0400-0500-0006-000700080009\n",
			"sys/class/dmi/id/product_serial": "To Be Filled By O.E.M.\n",
			"sys/block/nvme0n1/device/serial": "0\n",
		}),
		want:    map[string]string{SourceMachineID: "3d1219c7c4c5404aaa1f6d2a48adfda4"},
		skipped: []string{SourceDMIProductUUID, SourceDMIProductSerial, SourceDiskSerial},
	}, {
		name: "dmi unreadable without root and no machine-id",
		files: merge(laptop, map[string]string{
			"etc/machine-id": "",
		}),
		readFile: func(p string) ([]byte, error) {
			if strings.Contains(filepath.ToSlash(p), "/sys/class/dmi/") {
				return nil, &fs.PathError{Op: "open", Path: p, Err: fs.ErrPermission}
			}
			return os.ReadFile(p)
		},
		err: []string{
			"no strong hardware identifier",
			"dmi.product_uuid (/sys/class/dmi/id/product_uuid): permission denied",
			"dmi.product_serial (/sys/class/dmi/id/product_serial): permission denied",
			"machine-id (/var/lib/dbus/machine-id): no such file or directory",
			"run as root to include the DMI UUID and serial",
			"pass --hardware-fingerprint to override",
		},
	}, {
		name:  "nothing readable",
		files: map[string]string{},
		err: []string{
			"reading hardware fingerprint: no strong hardware identifier could be read; tried " +
				"dmi.product_uuid (/sys/class/dmi/id/product_uuid): no such file or directory, " +
				"dmi.product_serial (/sys/class/dmi/id/product_serial): no such file or directory, " +
				"machine-id (/etc/machine-id): no such file or directory, " +
				"machine-id (/var/lib/dbus/machine-id): no such file or directory, " +
				"disk.serial (/sys/block): no such file or directory; " +
				"this looks like a container or a machine without /sys/class/dmi/id; " +
				"or pass --hardware-fingerprint to override",
		},
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := sysfs{root: fakeRoot(t, tt.files), readFile: tt.readFile}
			if s.readFile == nil {
				s.readFile = os.ReadFile
			}
			fp, err := s.read()
			if tt.err != nil {
				if err == nil {
					t.Fatalf("read = %+v, want an error", fp)
				}
				if !errors.Is(err, ErrNoStrongSource) {
					t.Errorf("error %v is not ErrNoStrongSource", err)
				}
				for _, sub := range tt.err {
					if !strings.Contains(err.Error(), sub) {
						t.Errorf("error\n%s\ndoes not contain\n%s", err, sub)
					}
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			got := map[string]string{}
			for _, s := range fp.Sources {
				got[s.Name] = s.Value
			}
			if len(got) != len(tt.want) {
				t.Errorf("sources = %v, want %v", got, tt.want)
			}
			for k, v := range tt.want {
				if got[k] != v {
					t.Errorf("%s = %q, want %q", k, got[k], v)
				}
			}
			want := make([]Source, 0, len(tt.want))
			for k, v := range tt.want {
				want = append(want, Source{k, v})
			}
			if c, _ := Compute(want...); c.Value != fp.Value {
				t.Errorf("Value = %s, want %s", fp.Value, c.Value)
			}
			for _, name := range tt.skipped {
				found := false
				for _, a := range fp.Skipped {
					found = found || a.Source == name
				}
				if !found {
					t.Errorf("Skipped = %v, want %s in it", fp.Skipped, name)
				}
			}
		})
	}
}

// TestReadLinuxPermissionRecorded checks that a denied DMI serial is kept
// as a reason callers can test for.
func TestReadLinuxPermissionRecorded(t *testing.T) {
	s := sysfs{root: fakeRoot(t, laptop), readFile: func(p string) ([]byte, error) {
		if strings.HasSuffix(filepath.ToSlash(p), "/product_serial") {
			return nil, &fs.PathError{Op: "open", Path: p, Err: fs.ErrPermission}
		}
		return os.ReadFile(p)
	}}
	fp, err := s.read()
	if err != nil {
		t.Fatal(err)
	}
	if len(fp.Skipped) != 1 || !errors.Is(fp.Skipped[0].Err, fs.ErrPermission) {
		t.Errorf("Skipped = %v, want one permission error", fp.Skipped)
	}
}

// TestReadLinuxDiskNamesDoNotMatter checks that swapping the kernel names of
// two disks between boots (sda and sdb) does not change the fingerprint.
func TestReadLinuxDiskNamesDoNotMatter(t *testing.T) {
	base := merge(laptop, map[string]string{
		"proc/self/mountinfo":             "",
		"sys/block/nvme0n1/device/serial": "",
	})
	one, err := ReadLinux(fakeRoot(t, merge(base, map[string]string{
		"sys/block/sda/device/vpd_pg80": vpd80("DISK-B"),
		"sys/block/sdb/device/vpd_pg80": vpd80("DISK-A"),
	})))
	if err != nil {
		t.Fatal(err)
	}
	two, err := ReadLinux(fakeRoot(t, merge(base, map[string]string{
		"sys/block/sda/device/vpd_pg80": vpd80("DISK-A"),
		"sys/block/sdb/device/vpd_pg80": vpd80("DISK-B"),
	})))
	if err != nil {
		t.Fatal(err)
	}
	if one.Value != two.Value {
		t.Errorf("renamed disks changed the fingerprint: %s, %s", one.Value, two.Value)
	}
}

// TestReadLinuxChangesWithEverySource changes each file the laptop
// fingerprint is made of and checks the fingerprint changes.
func TestReadLinuxChangesWithEverySource(t *testing.T) {
	base, err := ReadLinux(fakeRoot(t, laptop))
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{
		"sys/class/dmi/id/product_uuid",
		"sys/class/dmi/id/product_serial",
		"etc/machine-id",
		"sys/block/nvme0n1/device/serial",
	} {
		changed := merge(laptop, map[string]string{f: "ab" + strings.TrimSpace(laptop[f])[2:]})
		fp, err := ReadLinux(fakeRoot(t, changed))
		if err != nil {
			t.Fatal(err)
		}
		if fp.Value == base.Value {
			t.Errorf("changing %s left the fingerprint unchanged", f)
		}
	}
}

func TestParseVPD80(t *testing.T) {
	for _, tt := range []struct {
		in, want string
		ok       bool
	}{
		{vpd80("WD-WCC4N1234567"), "WD-WCC4N1234567", true},
		{vpd80("  S3Z9NB0K123456  \x00"), "S3Z9NB0K123456", true},
		{vpd80("ABC") + "trailing", "ABC", true},
		{"\x00\x80\x00\x10SHORT", "SHORT", true},
		{"\x00\x83\x00\x03ABC", "", false},
		{"\x00\x80", "", false},
		{"\x00\x80\x00\x03A\x01C", "", false},
	} {
		got, err := parseVPD80([]byte(tt.in))
		if (err == nil) != tt.ok || got != tt.want {
			t.Errorf("parseVPD80(%q) = %q, %v; want %q, ok %v", tt.in, got, err, tt.want, tt.ok)
		}
	}
}
