package hwid

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"slices"
	"strings"
)

// Names of the sources a fingerprint can contain.
const (
	SourceDMIProductUUID         = "dmi.product_uuid"       // Linux, strong
	SourceDMIProductSerial       = "dmi.product_serial"     // Linux
	SourceMachineID              = "machine-id"             // Linux, strong
	SourceDiskSerial             = "disk.serial"            // Linux
	SourceIOPlatformUUID         = "IOPlatformUUID"         // macOS, strong
	SourceIOPlatformSerialNumber = "IOPlatformSerialNumber" // macOS
	SourceSMBIOSUUID             = "smbios.uuid"            // Windows, strong
	SourceMachineGUID            = "MachineGuid"            // Windows, strong
)

// Prefix starts every fingerprint value and names the encoding version.
const Prefix = "hw1:"

// domain is the first length-prefixed field of the hashed encoding.
const domain = "kiwistack/hwid/v1"

// strong lists the sources of which at least one must be present.
var strong = map[string]bool{
	SourceDMIProductUUID: true,
	SourceMachineID:      true,
	SourceIOPlatformUUID: true,
	SourceSMBIOSUUID:     true,
	SourceMachineGUID:    true,
}

// lowercased lists the sources whose values are UUIDs or hex ids and are
// compared without regard to case.
var lowercased = map[string]bool{
	SourceDMIProductUUID: true,
	SourceMachineID:      true,
	SourceIOPlatformUUID: true,
	SourceSMBIOSUUID:     true,
	SourceMachineGUID:    true,
}

// Source is one identifier read from the machine.
type Source struct {
	Name  string // one of the Source constants
	Value string // normalised value
}

// Fingerprint is the hardware fingerprint of a machine.
type Fingerprint struct {
	// Value is Prefix followed by the lowercase hex SHA-256 of the
	// canonical encoding of Sources. It is the only part meant to leave
	// the machine.
	Value string
	// Sources are the identifiers that went into Value, sorted by name.
	Sources []Source
	// Skipped are the sources that were tried and gave nothing, with the
	// reason (for example a permission error: run as root to include the
	// DMI serial). They do not affect Value.
	Skipped []Attempt
}

// Read computes the fingerprint of the running machine. It returns a
// [*ReadError] when no strong source can be read, and an error wrapping
// [errors.ErrUnsupported] on an operating system this package does not
// cover.
func Read(ctx context.Context) (Fingerprint, error) {
	return readOS(ctx)
}

// Compute normalises sources, drops placeholder values and computes the
// fingerprint. It returns a [*ReadError] when no strong source remains.
func Compute(sources ...Source) (Fingerprint, error) {
	return build(sources, nil, nil)
}

// build normalises and filters sources, appends what was dropped to
// skipped, and hashes the rest; hints are added to the error when no strong
// source remains.
func build(sources []Source, skipped []Attempt, hints []string) (Fingerprint, error) {
	var kept []Source
	haveStrong := false
	for _, s := range sources {
		v := normalise(s.Name, s.Value)
		if isPlaceholder(v) {
			skipped = append(skipped, Attempt{Source: s.Name, Err: ErrPlaceholder})
			continue
		}
		kept = append(kept, Source{Name: s.Name, Value: v})
		haveStrong = haveStrong || strong[s.Name]
	}
	if !haveStrong {
		return Fingerprint{}, &ReadError{Attempts: skipped, Hints: hints}
	}
	slices.SortFunc(kept, func(a, b Source) int {
		if c := strings.Compare(a.Name, b.Name); c != 0 {
			return c
		}
		return strings.Compare(a.Value, b.Value)
	})
	kept = slices.Compact(kept)
	sum := sha256.Sum256(encode(kept))
	return Fingerprint{Value: Prefix + hex.EncodeToString(sum[:]), Sources: kept, Skipped: skipped}, nil
}

// encode is the canonical encoding that is hashed: the domain string, then
// each name and value, each preceded by its length as a big-endian uint32.
// sources must already be normalised and sorted.
func encode(sources []Source) []byte {
	var b []byte
	lp := func(s string) {
		b = binary.BigEndian.AppendUint32(b, uint32(len(s)))
		b = append(b, s...)
	}
	lp(domain)
	for _, s := range sources {
		lp(s.Name)
		lp(s.Value)
	}
	return b
}

// normalise trims white space and NULs and lowercases UUIDs and ids.
func normalise(name, value string) string {
	v := strings.Trim(value, " \t\r\n\v\f\x00")
	if lowercased[name] {
		v = strings.ToLower(v)
	}
	return v
}

// placeholders are values firmware and images ship instead of a real
// identifier, compared after normalisation and without regard to case.
// All-zero and all-F UUIDs are recognised by isPlaceholder itself.
var placeholders = []string{
	"",
	"0",
	"none",
	"123456789",
	"to be filled by o.e.m.",
	"default string",
	"system serial number",
	"not specified",
	"not applicable",
	"uninitialized",                        // systemd machine-id before first boot completes
	"03000200-0400-0500-0006-000700080009", // shared by many boards of one vendor
}

// isPlaceholder reports whether a normalised value is a known placeholder
// rather than an identifier.
func isPlaceholder(v string) bool {
	l := strings.ToLower(v)
	if slices.Contains(placeholders, l) {
		return true
	}
	digits := strings.ReplaceAll(l, "-", "")
	if len(digits) >= 8 && (strings.Trim(digits, "0") == "" || strings.Trim(digits, "f") == "") {
		return true
	}
	return false
}

// serialSources are the sources that hold the machine's serial number, as
// the vendor prints it on the case and an OEM lists it.
var serialSources = []string{SourceDMIProductSerial, SourceIOPlatformSerialNumber}

// Serial returns the machine's serial number among f's sources (the DMI
// product serial on Linux, IOPlatformSerialNumber on macOS), or "" when
// none was read (Windows for now, or Linux without root).
func (f Fingerprint) Serial() string {
	for _, name := range serialSources {
		for _, s := range f.Sources {
			if s.Name == name {
				return s.Value
			}
		}
	}
	return ""
}
