package hwid

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// errNoSystemUUID is returned when an SMBIOS table has no type 1 structure
// with a UUID.
var errNoSystemUUID = errors.New("no system information structure with a UUID in the SMBIOS table")

// parseSMBIOSUUID returns the system UUID, lowercase and hyphenated, from
// the buffer GetSystemFirmwareTable('RSMB', 0) fills on Windows: the 8-byte
// RawSMBIOSData header (Used20CallingMethod, SMBIOSMajorVersion,
// SMBIOSMinorVersion, DmiRevision, Length as a little-endian uint32)
// followed by Length bytes of SMBIOS structures.
func parseSMBIOSUUID(raw []byte) (string, error) {
	if len(raw) < 8 {
		return "", fmt.Errorf("smbios data is %d bytes, shorter than its header", len(raw))
	}
	major, minor := raw[1], raw[2]
	n := binary.LittleEndian.Uint32(raw[4:8])
	table := raw[8:]
	if uint64(n) < uint64(len(table)) {
		table = table[:n]
	}
	return smbiosUUID(table, major > 2 || major == 2 && minor >= 6)
}

// smbiosUUID returns the UUID of the first System Information (type 1)
// structure in table, a sequence of SMBIOS structures without any header
// (as in /sys/firmware/dmi/tables/DMI on Linux). From SMBIOS 2.6 on, the
// first three fields of the UUID are little-endian (littleEndian true).
func smbiosUUID(table []byte, littleEndian bool) (string, error) {
	for len(table) >= 4 {
		typ, length := table[0], int(table[1])
		if length < 4 || length > len(table) {
			return "", fmt.Errorf("smbios structure of type %d has bad length %d", typ, length)
		}
		if typ == 127 { // end of table
			break
		}
		if typ == 1 && length >= 0x18 {
			return formatUUID(table[8:24], littleEndian), nil
		}
		// Skip the formatted area, then the string set, which ends with
		// two NULs (two NULs straight away when there are no strings).
		i := length
		for i+1 < len(table) && (table[i] != 0 || table[i+1] != 0) {
			i++
		}
		if i+1 >= len(table) {
			break
		}
		table = table[i+2:]
	}
	return "", errNoSystemUUID
}

// formatUUID formats 16 bytes as a lowercase UUID string, swapping the
// first three fields when they are stored little-endian.
func formatUUID(b []byte, littleEndian bool) string {
	u := make([]byte, 16)
	copy(u, b)
	if littleEndian {
		u[0], u[1], u[2], u[3] = u[3], u[2], u[1], u[0]
		u[4], u[5] = u[5], u[4]
		u[6], u[7] = u[7], u[6]
	}
	return fmt.Sprintf("%x-%x-%x-%x-%x", u[0:4], u[4:6], u[6:8], u[8:10], u[10:16])
}
