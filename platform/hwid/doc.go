// Package hwid computes the laptop's hardware fingerprint for the enrollment
// ceremony: a short, stable value derived from identifiers the firmware and
// the operating system keep across reboots.
//
// It owns the list of sources read on each OS, their normalisation, the
// list of placeholder values that firmware ships instead of a real
// identifier, and the canonical encoding that is hashed:
//
//   - Linux: /sys/class/dmi/id/product_uuid and product_serial (readable by
//     root only on most systems), /etc/machine-id (or
//     /var/lib/dbus/machine-id), and the serial of the disk that holds the
//     root file system when it can be read ([ReadLinux]).
//   - macOS: IOPlatformUUID and IOPlatformSerialNumber from
//     /usr/sbin/ioreg -rd1 -c IOPlatformExpertDevice.
//   - Windows: the SMBIOS system UUID (GetSystemFirmwareTable 'RSMB') and
//     MachineGuid from HKLM\SOFTWARE\Microsoft\Cryptography.
//
// Values are trimmed of white space and NULs; UUIDs and machine ids are
// lowercased. A fingerprint needs at least one strong source (a DMI, SMBIOS
// or platform UUID, a machine-id or MachineGuid); otherwise [Read] returns
// a [*ReadError] that names every source tried, why each failed and what to
// do. The [Fingerprint] value is
//
//	"hw1:" + hex(SHA-256(lp("kiwistack/hwid/v1") || lp(name1) || lp(value1) || ...))
//
// where lp(s) is the length of s as a big-endian uint32 followed by the bytes
// of s, and the (name, value) pairs are sorted by name, then by value. The
// encoding, a test vector and the stability caveats are in
// docs/hardware-fingerprint.md.
//
// Only the hash is meant to leave the machine; [Fingerprint.Sources] holds
// the raw identifiers for local diagnostics. This package never writes
// anything, never uses values that change between boots (boot id, MAC
// addresses, USB devices), never runs a shell, and does not decide what a
// server does with a fingerprint.
package hwid
