package card

import "errors"

// errTLV reports malformed BER-TLV data.
var errTLV = errors.New("malformed tlv")

// tlv is one BER-TLV element as PIV uses them: a tag of one to three bytes
// and a definite length of up to three bytes.
type tlv struct {
	tag   uint32
	value []byte
}

// parseTLVs splits b into a flat list of TLV elements.
func parseTLVs(b []byte) ([]tlv, error) {
	var out []tlv
	for len(b) > 0 {
		t, v, rest, err := readTLV(b)
		if err != nil {
			return nil, err
		}
		out = append(out, tlv{tag: t, value: v})
		b = rest
	}
	return out, nil
}

// readTLV reads one element from the front of b.
func readTLV(b []byte) (tag uint32, value, rest []byte, err error) {
	if len(b) < 2 {
		return 0, nil, nil, errTLV
	}
	tag = uint32(b[0])
	i := 1
	if b[0]&0x1f == 0x1f {
		for {
			if i >= len(b) || i > 3 {
				return 0, nil, nil, errTLV
			}
			tag = tag<<8 | uint32(b[i])
			i++
			if b[i-1]&0x80 == 0 {
				break
			}
		}
	}
	if i >= len(b) {
		return 0, nil, nil, errTLV
	}
	l := int(b[i])
	i++
	if l > 0x80 {
		n := l & 0x7f
		if n > 3 || i+n > len(b) {
			return 0, nil, nil, errTLV
		}
		l = 0
		for j := 0; j < n; j++ {
			l = l<<8 | int(b[i+j])
		}
		i += n
	} else if l == 0x80 {
		return 0, nil, nil, errTLV
	}
	if l > len(b)-i {
		return 0, nil, nil, errTLV
	}
	return tag, b[i : i+l], b[i+l:], nil
}

// find returns the value of the first element with the tag.
func find(elems []tlv, tag uint32) ([]byte, bool) {
	for _, e := range elems {
		if e.tag == tag {
			return e.value, true
		}
	}
	return nil, false
}

// encLen encodes a BER definite length.
func encLen(n int) []byte {
	switch {
	case n < 0x80:
		return []byte{byte(n)}
	case n < 0x100:
		return []byte{0x81, byte(n)}
	case n < 0x10000:
		return []byte{0x82, byte(n >> 8), byte(n)}
	default:
		return []byte{0x83, byte(n >> 16), byte(n >> 8), byte(n)}
	}
}

// enc encodes one TLV element; tag is written in as many bytes as it needs.
func enc(tag uint32, value ...[]byte) []byte {
	n := 0
	for _, v := range value {
		n += len(v)
	}
	var out []byte
	switch {
	case tag > 0xffff:
		out = append(out, byte(tag>>16), byte(tag>>8), byte(tag))
	case tag > 0xff:
		out = append(out, byte(tag>>8), byte(tag))
	default:
		out = append(out, byte(tag))
	}
	out = append(out, encLen(n)...)
	for _, v := range value {
		out = append(out, v...)
	}
	return out
}
