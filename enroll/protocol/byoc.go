package protocol

import (
	"crypto/sha256"
	"encoding/binary"
)

// BYOCSerialBit marks a pseudo-serial: YubiKey serials stay below it, and
// roster entries of YubiKeys never use it.
const BYOCSerialBit = 1 << 31

// BYOCSerial is the yubikey_serial a signer whose certificate comes from the
// tenant's trust list (bring your own certificate, seed Z7) puts in its
// statements: the first four bytes of the SHA-256 of the certificate's
// SubjectPublicKeyInfo, big-endian, with BYOCSerialBit set. It names the
// key, not the certificate, so a renewed certificate of the same key keeps
// its serial; the roster and the audit log know the signer by it.
func BYOCSerial(spki []byte) uint32 {
	sum := sha256.Sum256(spki)
	return binary.BigEndian.Uint32(sum[:4]) | BYOCSerialBit
}

// IsBYOCSerial reports whether serial is in the pseudo-serial range of
// BYOCSerial.
func IsBYOCSerial(serial uint32) bool { return serial&BYOCSerialBit != 0 }
