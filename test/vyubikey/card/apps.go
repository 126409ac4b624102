package card

import (
	"bytes"
	"encoding/binary"
)

// Application identifiers a YubiKey answers SELECT for.
var (
	// aidPIV is the full PIV AID; SELECT matches any prefix of at least the
	// five-byte RID+PIX start, as real keys do.
	aidPIV        = []byte{0xa0, 0x00, 0x00, 0x03, 0x08, 0x00, 0x00, 0x10, 0x00, 0x01, 0x00}
	aidManagement = []byte{0xa0, 0x00, 0x00, 0x05, 0x27, 0x47, 0x11, 0x17}
	aidOTP        = []byte{0xa0, 0x00, 0x00, 0x05, 0x27, 0x20, 0x01, 0x01}
)

// cmdSelect handles SELECT by AID (P1 04).
func (c *Card) cmdSelect(cmd command) ([]byte, uint16) {
	if cmd.p1 != 0x04 {
		return nil, swIncorrectP1P2
	}
	aid := cmd.data
	switch {
	case len(aid) >= 5 && bytes.HasPrefix(aidPIV, aid):
		if c.app != appPIV {
			c.clearSecurity()
		}
		c.app = appPIV
		// Application property template: the AID of the application and
		// the coexistent tag allocation authority (NIST SP 800-73-4 3.1.1),
		// byte for byte as a YubiKey answers.
		return enc(0x61,
			enc(0x4f, []byte{0x00, 0x00, 0x10, 0x00, 0x01, 0x00}),
			enc(0x79, enc(0x4f, aidPIV[:5])),
		), swOK
	case bytes.Equal(aid, aidManagement):
		c.clearSecurity()
		c.app = appManagement
		return []byte(c.opts.Version), swOK
	case bytes.Equal(aid, aidOTP):
		c.clearSecurity()
		c.app = appOTP
		return c.otpStatus(), swOK
	}
	return nil, swFileNotFound
}

// managementCommand answers the YubiKey management application: READ
// CONFIG (device info), which piv-go uses for the form factor.
func (c *Card) managementCommand(cmd command) ([]byte, uint16) {
	if cmd.ins != 0x1d {
		return nil, swINSNotSupported
	}
	const caps = 0x023b // OTP, U2F, OpenPGP, PIV, OATH, FIDO2
	serial := make([]byte, 4)
	binary.BigEndian.PutUint32(serial, c.st.Serial)
	var info []byte
	info = append(info, enc(0x01, []byte{caps >> 8, caps & 0xff})...)
	info = append(info, enc(0x02, serial)...)
	info = append(info, enc(0x03, []byte{caps >> 8, caps & 0xff})...)
	info = append(info, enc(0x04, []byte{c.st.FormFactor})...)
	info = append(info, enc(0x05, c.ver[:])...)
	info = append(info, enc(0x06, []byte{0, 0})...)
	info = append(info, enc(0x07, []byte{0x0f})...)
	info = append(info, enc(0x08, []byte{0x00})...)
	info = append(info, enc(0x0a, []byte{0x00})...)
	return append([]byte{byte(len(info))}, info...), swOK
}

// otpStatus is the OTP application's status: firmware version, programming
// sequence and touch level.
func (c *Card) otpStatus() []byte {
	return []byte{c.ver[0], c.ver[1], c.ver[2], 0x00, 0x00, 0x00}
}

// otpCommand answers the OTP application's GET SERIAL (INS 01, P1 10), the
// way firmware before 5 was asked for its serial.
func (c *Card) otpCommand(cmd command) ([]byte, uint16) {
	if cmd.ins == 0x01 && cmd.p1 == 0x10 {
		out := make([]byte, 4)
		binary.BigEndian.PutUint32(out, c.st.Serial)
		return out, swOK
	}
	return nil, swINSNotSupported
}

// pivCommand dispatches a PIV command by instruction.
func (c *Card) pivCommand(cmd command) ([]byte, uint16) {
	switch cmd.ins {
	case 0xfd: // GET VERSION
		return c.ver[:], swOK
	case 0xf8: // GET SERIAL
		out := make([]byte, 4)
		binary.BigEndian.PutUint32(out, c.st.Serial)
		return out, swOK
	case 0xf7: // GET METADATA
		if !c.atLeast(5, 3, 0) {
			return nil, swINSNotSupported
		}
		return c.cmdMetadata(cmd)
	case 0x20:
		return c.cmdVerify(cmd)
	case 0x24:
		return c.cmdChangeReference(cmd)
	case 0x2c:
		return c.cmdResetRetry(cmd)
	case 0xfa:
		return c.cmdSetRetries(cmd)
	case 0xfb:
		return c.cmdReset(cmd)
	case 0x87:
		return c.cmdGeneralAuthenticate(cmd)
	case 0xff:
		return c.cmdSetManagementKey(cmd)
	case 0x47:
		return c.cmdGenerate(cmd)
	case 0xfe:
		return c.cmdImport(cmd)
	case 0xcb:
		return c.cmdGetData(cmd)
	case 0xdb:
		return c.cmdPutData(cmd)
	case 0xf9:
		return c.cmdAttest(cmd)
	case 0xf6:
		if !c.atLeast(5, 7, 0) {
			return nil, swINSNotSupported
		}
		return c.cmdMoveKey(cmd)
	}
	return nil, swINSNotSupported
}
