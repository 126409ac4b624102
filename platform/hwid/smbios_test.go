package hwid

import (
	"encoding/binary"
	"errors"
	"io/fs"
	"os"
	"regexp"
	"strings"
	"testing"
)

// structure builds one SMBIOS structure: the 4-byte header, the rest of the
// formatted area, then the string set.
func structure(typ byte, handle uint16, formatted []byte, strs ...string) []byte {
	b := []byte{typ, byte(4 + len(formatted)), byte(handle), byte(handle >> 8)}
	b = append(b, formatted...)
	for _, s := range strs {
		b = append(b, s...)
		b = append(b, 0)
	}
	if len(strs) == 0 {
		b = append(b, 0)
	}
	return append(b, 0)
}

// systemInfo builds a type 1 structure holding uuid as stored.
func systemInfo(uuid []byte) []byte {
	f := []byte{1, 2, 3, 4} // manufacturer, product, version, serial strings
	f = append(f, uuid...)
	f = append(f, 6, 5, 6) // wake-up type, SKU, family
	return structure(1, 1, f, "Dell Inc.", "Latitude 7440", "1.0", "5R2NV32", "SKU", "Latitude")
}

// rawSMBIOS prepends the RawSMBIOSData header GetSystemFirmwareTable writes.
func rawSMBIOS(major, minor byte, table []byte) []byte {
	b := []byte{0, major, minor, 0}
	b = binary.LittleEndian.AppendUint32(b, uint32(len(table)))
	return append(b, table...)
}

// dellUUID is 4c4c4544-0042-3510-8052-b4c04f4e3732 as SMBIOS 2.6+ stores it.
var dellUUID = []byte{0x44, 0x45, 0x4c, 0x4c, 0x42, 0x00, 0x10, 0x35, 0x80, 0x52, 0xb4, 0xc0, 0x4f, 0x4e, 0x37, 0x32}

func table(parts ...[]byte) []byte {
	var b []byte
	for _, p := range parts {
		b = append(b, p...)
	}
	return b
}

var (
	bios       = structure(0, 0, []byte{1, 2, 0, 3, 0x80, 0x90, 0xe8, 0x00, 0, 0, 0, 0, 0, 0}, "Dell Inc.", "1.12.0", "06/14/2024")
	noStrings  = structure(32, 2, []byte{0, 0, 0, 0, 0, 0, 0}) // system boot information
	endOfTable = structure(127, 0xfeff, nil)
)

func TestParseSMBIOSUUID(t *testing.T) {
	for _, tt := range []struct {
		name string
		raw  []byte
		want string // "": an error
	}{
		{"3.4 little-endian", rawSMBIOS(3, 4, table(bios, noStrings, systemInfo(dellUUID), endOfTable)),
			"4c4c4544-0042-3510-8052-b4c04f4e3732"},
		{"2.6 little-endian", rawSMBIOS(2, 6, table(bios, systemInfo(dellUUID))),
			"4c4c4544-0042-3510-8052-b4c04f4e3732"},
		{"2.5 big-endian", rawSMBIOS(2, 5, table(systemInfo(dellUUID))),
			"44454c4c-4200-1035-8052-b4c04f4e3732"},
		{"after end of table", rawSMBIOS(3, 0, table(bios, endOfTable, systemInfo(dellUUID))), ""},
		{"beyond header length", func() []byte {
			b := rawSMBIOS(3, 0, table(bios))
			return append(b, systemInfo(dellUUID)...)
		}(), ""},
		{"no type 1", rawSMBIOS(3, 0, table(bios, noStrings, endOfTable)), ""},
		{"truncated type 1", rawSMBIOS(3, 0, table(bios, systemInfo(dellUUID)[:12])), ""},
		{"short type 1 (SMBIOS 2.0)", rawSMBIOS(2, 0, table(structure(1, 1, []byte{1, 2, 3, 4}, "a"))), ""},
		{"bad length", rawSMBIOS(3, 0, []byte{0, 2, 0, 0, 0, 0}), ""},
		{"short header", []byte{0, 3, 0}, ""},
		{"empty", nil, ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseSMBIOSUUID(tt.raw)
			if tt.want == "" {
				if err == nil {
					t.Fatalf("parseSMBIOSUUID = %q, want an error", got)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("parseSMBIOSUUID = %q, %v; want %q", got, err, tt.want)
			}
		})
	}
}

// TestSMBIOSUUIDMatchesKernel parses this machine's SMBIOS table with the
// parser Windows uses and compares the result with the UUID the Linux
// kernel decoded from the same table.
func TestSMBIOSUUIDMatchesKernel(t *testing.T) {
	tbl, err := os.ReadFile("/sys/firmware/dmi/tables/DMI")
	if errors.Is(err, fs.ErrNotExist) {
		t.Skip("this machine exports no SMBIOS table (/sys/firmware/dmi/tables/DMI missing: a VM or container without DMI); the hand-built tables above still run")
	}
	if err != nil {
		t.Skipf("cannot read the SMBIOS table (reading it needs root): %v", err)
	}
	ep, err := os.ReadFile("/sys/firmware/dmi/tables/smbios_entry_point")
	if err != nil {
		t.Skipf("cannot read the SMBIOS entry point: %v", err)
	}
	var major, minor byte
	switch {
	case len(ep) >= 9 && string(ep[:5]) == "_SM3_":
		major, minor = ep[7], ep[8]
	case len(ep) >= 8 && string(ep[:4]) == "_SM_":
		major, minor = ep[6], ep[7]
	default:
		t.Fatalf("unknown SMBIOS entry point %q", ep)
	}
	want, err := os.ReadFile("/sys/class/dmi/id/product_uuid")
	if err != nil {
		t.Skipf("cannot read the kernel's product_uuid: %v", err)
	}
	got, err := parseSMBIOSUUID(rawSMBIOS(major, minor, tbl))
	if err != nil {
		t.Fatal(err)
	}
	if w := strings.ToLower(strings.TrimSpace(string(want))); got != w {
		t.Errorf("SMBIOS %d.%d UUID = %s, kernel says %s", major, minor, got, w)
	}
}

var uuidPattern = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$`)

func FuzzParseSMBIOSUUID(f *testing.F) {
	f.Add(rawSMBIOS(3, 4, table(bios, noStrings, systemInfo(dellUUID), endOfTable)), dellUUID, byte(3), byte(4))
	f.Add(rawSMBIOS(2, 5, table(systemInfo(dellUUID))), dellUUID, byte(2), byte(5))
	f.Add([]byte{}, []byte{}, byte(0), byte(0))
	f.Fuzz(func(t *testing.T, raw, uuid []byte, major, minor byte) {
		got, err := parseSMBIOSUUID(raw)
		if err == nil && !uuidPattern.MatchString(got) {
			t.Fatalf("parseSMBIOSUUID = %q, not a lowercase UUID", got)
		}
		// Any 16 bytes in a well-formed table come back as formatUUID says,
		// after any number of other structures.
		if len(uuid) != 16 {
			return
		}
		le := major > 2 || major == 2 && minor >= 6
		doc := rawSMBIOS(major, minor, table(bios, noStrings, systemInfo(uuid), endOfTable))
		got, err = parseSMBIOSUUID(doc)
		if want := formatUUID(uuid, le); err != nil || got != want {
			t.Fatalf("parseSMBIOSUUID = %q, %v; want %q", got, err, want)
		}
	})
}
