package card

import (
	"bytes"
	"fmt"
)

// maxObjectSize is the largest data object a YubiKey 5 stores.
const maxObjectSize = 3052

// discoveryObject is the PIV discovery object (tag 7E) of a YubiKey: the
// PIV AID and the PIN usage policy (PIV PIN only, no global PIN).
var discoveryObject = enc(0x7e,
	enc(0x4f, aidPIV),
	enc(0x5f2f, []byte{0x40, 0x00}),
)

// objectName returns the state key of a data object tag from a 5C tag
// list, or "" when the tag is not one this card stores.
func objectName(tagList []byte) string {
	tag, v, rest, err := readTLV(tagList)
	if err != nil || tag != 0x5c || len(rest) != 0 {
		return ""
	}
	switch {
	case len(v) == 1 && v[0] == 0x7e:
		return "7e"
	case len(v) == 3 && v[0] == 0x5f && v[1] == 0xc1 && v[2] >= 0x01 && v[2] <= 0x23:
		return fmt.Sprintf("%x", v)
	case len(v) == 3 && v[0] == 0x5f && v[1] == 0xff && v[2] <= 0x15:
		return fmt.Sprintf("%x", v)
	}
	return ""
}

// pinProtectedObjects are readable only after VERIFY: fingerprints, facial
// image, printed information. A YubiKey answers 6982 before revealing
// whether they exist.
var pinProtectedObjects = map[string]bool{"5fc103": true, "5fc108": true, "5fc109": true}

// cmdGetData handles GET DATA (P1P2 3FFF, data 5C tag list).
func (c *Card) cmdGetData(cmd command) ([]byte, uint16) {
	if cmd.p1 != 0x3f || cmd.p2 != 0xff {
		return nil, swIncorrectP1P2
	}
	name := objectName(cmd.data)
	if name == "" {
		return nil, swIncorrectData
	}
	if name == "7e" {
		return discoveryObject, swOK
	}
	if pinProtectedObjects[name] && !c.pinVerified {
		return nil, swSecurityNotSatisfied
	}
	v, ok := c.st.Objects[name]
	if !ok {
		return nil, swFileNotFound
	}
	return enc(0x53, v), swOK
}

// cmdPutData handles PUT DATA (P1P2 3FFF, data 5C tag list then 53
// template). An empty 53 deletes the object.
func (c *Card) cmdPutData(cmd command) ([]byte, uint16) {
	if cmd.p1 != 0x3f || cmd.p2 != 0xff {
		return nil, swIncorrectP1P2
	}
	if !c.mgmtAuthed {
		return nil, swSecurityNotSatisfied
	}
	tag, v, rest, err := readTLV(cmd.data)
	if err != nil || tag != 0x5c {
		return nil, swIncorrectData
	}
	name := objectName(enc(0x5c, v))
	if name == "" || name == "7e" {
		return nil, swIncorrectData
	}
	tag, value, rest, err := readTLV(rest)
	if err != nil || tag != 0x53 || len(rest) != 0 {
		return nil, swIncorrectData
	}
	if len(value) > maxObjectSize {
		return nil, swNotEnoughMemory
	}
	if len(value) == 0 {
		delete(c.st.Objects, name)
	} else {
		c.st.Objects[name] = bytes.Clone(value)
	}
	c.dirty = true
	return nil, swOK
}
