package card

// Status words the card answers with, as a YubiKey does.
const (
	swOK                    = 0x9000
	swMoreData              = 0x6100 // low byte: bytes left, 00 for 256 or more
	swWrongLength           = 0x6700
	swSecurityNotSatisfied  = 0x6982
	swAuthBlocked           = 0x6983
	swConditionsNotSatisfed = 0x6985
	swIncorrectData         = 0x6a80
	swFuncNotSupported      = 0x6a81
	swFileNotFound          = 0x6a82
	swNotEnoughMemory       = 0x6a84
	swIncorrectP1P2         = 0x6a86
	swReferenceNotFound     = 0x6a88
	swINSNotSupported       = 0x6d00
	swCLANotSupported       = 0x6e00
	swNoPreciseDiagnosis    = 0x6f00
	swMemoryFailure         = 0x6581
	swVerifyFailBase        = 0x63c0 // low nibble: retries left
	swLastCommandExpected   = 0x6883
)

// command is one parsed command APDU (ISO/IEC 7816-4 short or extended).
type command struct {
	cla, ins, p1, p2 byte
	data             []byte
	extended         bool // extended length: the whole response in one piece
}

// parseAPDU splits a command APDU into header and data. It accepts the four
// short cases and the extended-length cases; anything else is a length error.
func parseAPDU(b []byte) (command, uint16) {
	if len(b) < 4 {
		return command{}, swWrongLength
	}
	c := command{cla: b[0], ins: b[1], p1: b[2], p2: b[3]}
	body := b[4:]
	switch {
	case len(body) == 0: // case 1
		return c, 0
	case len(body) == 1: // case 2 short: Le only
		return c, 0
	case body[0] != 0: // short Lc
		lc := int(body[0])
		switch len(body) {
		case 1 + lc, 2 + lc: // case 3, case 4 (with Le)
			c.data = body[1 : 1+lc]
			return c, 0
		}
		return command{}, swWrongLength
	default: // body[0] == 0 and more than one byte: extended
		if len(body) < 3 {
			return command{}, swWrongLength
		}
		lc := int(body[1])<<8 | int(body[2])
		switch {
		case len(body) == 3: // case 2 extended: Le only
			c.extended = true
			return c, 0
		case lc == 0:
			return command{}, swWrongLength
		case len(body) == 3+lc, len(body) == 5+lc: // case 3E, case 4E
			c.data = body[3 : 3+lc]
			c.extended = true
			return c, 0
		}
		return command{}, swWrongLength
	}
}

// withSW appends a status word to response data.
func withSW(data []byte, sw uint16) []byte {
	out := make([]byte, 0, len(data)+2)
	out = append(out, data...)
	return append(out, byte(sw>>8), byte(sw))
}
