package card

import (
	"bytes"
	"crypto/subtle"
)

// padPIN pads a PIN or PUK to the eight bytes PIV stores, with 0xff.
func padPIN(s string) []byte {
	b := []byte(s)
	for len(b) < 8 {
		b = append(b, 0xff)
	}
	return b
}

// validNewPIN reports whether an eight-byte padded value holds six to eight
// characters, the YubiKey's rule for a new PIN or PUK.
func validNewPIN(b []byte) bool {
	n := len(bytes.TrimRight(b, "\xff"))
	return len(b) == 8 && n >= 6 && n <= 8 && bytes.IndexByte(b[:n], 0xff) < 0
}

// factoryReset puts PIN, PUK, management key, keys and data objects back to
// factory defaults. The attestation key and certificate (f9, 5fff01) are
// factory-provisioned and survive, as on a real key.
func (c *Card) factoryReset() {
	s := c.st
	s.PIN = padPIN(DefaultPIN)
	s.PUK = padPIN(DefaultPUK)
	s.PINRetries, s.PINRemaining = 3, 3
	s.PUKRetries, s.PUKRemaining = 3, 3
	s.MgmtKey = bytes.Clone(DefaultManagementKey)
	s.MgmtAlg = alg3DES
	if c.atLeast(5, 7, 0) {
		s.MgmtAlg = algAES192
	}
	s.MgmtTouch = false
	s.MgmtDefault = true
	for slot := range s.Keys {
		if slot != "f9" {
			delete(s.Keys, slot)
			delete(c.keys, slot)
		}
	}
	for obj := range s.Objects {
		if obj != "5fff01" {
			delete(s.Objects, obj)
		}
	}
	c.clearSecurity()
	c.dirty = true
}

// retriesSW is the status word for a failed verification with n tries left.
func retriesSW(n int) uint16 {
	if n <= 0 {
		return swAuthBlocked
	}
	return swVerifyFailBase | uint16(min(n, 15))
}

// cmdVerify handles VERIFY for the PIN (P2 80). Without data it reports
// the status without spending a try: 9000 when verified, 63Cx otherwise.
// P1 FF resets the verification.
func (c *Card) cmdVerify(cmd command) ([]byte, uint16) {
	if cmd.p2 != 0x80 {
		return nil, swReferenceNotFound
	}
	switch cmd.p1 {
	case 0xff:
		if len(cmd.data) != 0 {
			return nil, swIncorrectData
		}
		c.pinVerified, c.pinAlways = false, false
		return nil, swOK
	case 0x00:
	default:
		return nil, swIncorrectP1P2
	}
	s := c.st
	if len(cmd.data) == 0 {
		switch {
		case c.pinVerified:
			return nil, swOK
		case s.PINRemaining == 0:
			return nil, swAuthBlocked
		}
		return nil, retriesSW(s.PINRemaining)
	}
	if len(cmd.data) != 8 {
		return nil, swIncorrectData
	}
	if s.PINRemaining == 0 {
		return nil, swAuthBlocked
	}
	if subtle.ConstantTimeCompare(cmd.data, s.PIN) != 1 {
		s.PINRemaining--
		c.pinVerified, c.pinAlways = false, false
		c.dirty = true
		return nil, retriesSW(s.PINRemaining)
	}
	if s.PINRemaining != s.PINRetries {
		s.PINRemaining = s.PINRetries
		c.dirty = true
	}
	c.pinVerified, c.pinAlways = true, true
	return nil, swOK
}

// cmdChangeReference handles CHANGE REFERENCE DATA for the PIN (P2 80) and
// the PUK (P2 81): old value then new value, eight bytes each.
func (c *Card) cmdChangeReference(cmd command) ([]byte, uint16) {
	if cmd.p1 != 0x00 {
		return nil, swIncorrectP1P2
	}
	s := c.st
	var cur *[]byte
	var remaining *int
	var total int
	switch cmd.p2 {
	case 0x80:
		cur, remaining, total = &s.PIN, &s.PINRemaining, s.PINRetries
	case 0x81:
		cur, remaining, total = &s.PUK, &s.PUKRemaining, s.PUKRetries
	default:
		return nil, swReferenceNotFound
	}
	if *remaining == 0 {
		return nil, swAuthBlocked
	}
	if len(cmd.data) != 16 {
		return nil, swIncorrectData
	}
	old, next := cmd.data[:8], cmd.data[8:]
	if subtle.ConstantTimeCompare(old, *cur) != 1 {
		*remaining--
		c.dirty = true
		if cmd.p2 == 0x80 {
			c.pinVerified, c.pinAlways = false, false
		}
		return nil, retriesSW(*remaining)
	}
	if !validNewPIN(next) {
		return nil, swIncorrectData
	}
	*cur = bytes.Clone(next)
	*remaining = total
	c.dirty = true
	if cmd.p2 == 0x80 {
		c.pinVerified = true
	}
	return nil, swOK
}

// cmdResetRetry handles RESET RETRY COUNTER: PUK then new PIN unblock the
// PIN.
func (c *Card) cmdResetRetry(cmd command) ([]byte, uint16) {
	if cmd.p1 != 0x00 || cmd.p2 != 0x80 {
		return nil, swIncorrectP1P2
	}
	s := c.st
	if s.PUKRemaining == 0 {
		return nil, swAuthBlocked
	}
	if len(cmd.data) != 16 {
		return nil, swIncorrectData
	}
	puk, pin := cmd.data[:8], cmd.data[8:]
	if subtle.ConstantTimeCompare(puk, s.PUK) != 1 {
		s.PUKRemaining--
		c.dirty = true
		return nil, retriesSW(s.PUKRemaining)
	}
	if !validNewPIN(pin) {
		return nil, swIncorrectData
	}
	s.PIN = bytes.Clone(pin)
	s.PINRemaining = s.PINRetries
	s.PUKRemaining = s.PUKRetries
	c.dirty = true
	return nil, swOK
}

// cmdSetRetries handles the YubiKey SET PIN RETRIES (INS FA, P1 PIN tries,
// P2 PUK tries). It needs the management key and the PIN, and sets PIN and
// PUK back to their defaults.
func (c *Card) cmdSetRetries(cmd command) ([]byte, uint16) {
	if !c.mgmtAuthed || !c.pinVerified {
		return nil, swSecurityNotSatisfied
	}
	if cmd.p1 == 0 || cmd.p2 == 0 {
		return nil, swIncorrectP1P2
	}
	s := c.st
	s.PINRetries, s.PINRemaining = int(cmd.p1), int(cmd.p1)
	s.PUKRetries, s.PUKRemaining = int(cmd.p2), int(cmd.p2)
	s.PIN = padPIN(DefaultPIN)
	s.PUK = padPIN(DefaultPUK)
	c.dirty = true
	return nil, swOK
}

// cmdReset handles the YubiKey RESET (INS FB): allowed only when both PIN
// and PUK are blocked.
func (c *Card) cmdReset(cmd command) ([]byte, uint16) {
	if c.st.PINRemaining != 0 || c.st.PUKRemaining != 0 {
		return nil, swConditionsNotSatisfed
	}
	c.factoryReset()
	c.log.Info("virtual yubikey reset to factory defaults", "serial", c.st.Serial)
	return nil, swOK
}

// pinMetadata is GET METADATA for the PIN or PUK.
func pinMetadata(value, def []byte, total, remaining int) []byte {
	isDefault := byte(0)
	if bytes.Equal(value, def) {
		isDefault = 1
	}
	var out []byte
	out = append(out, enc(0x01, []byte{0xff})...)
	out = append(out, enc(0x05, []byte{isDefault})...)
	out = append(out, enc(0x06, []byte{byte(total), byte(remaining)})...)
	return out
}
