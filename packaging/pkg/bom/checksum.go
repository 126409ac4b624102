package bom

import (
	"fmt"
	"io"
)

// crcTable is the table of the CRC-32 polynomial 0x04C11DB7, most
// significant bit first, as POSIX cksum(1) uses it.
var crcTable = func() (t [256]uint32) {
	for i := range t {
		c := uint32(i) << 24
		for range 8 {
			if c&0x80000000 != 0 {
				c = c<<1 ^ 0x04c11db7
			} else {
				c <<= 1
			}
		}
		t[i] = c
	}
	return t
}()

// Checksum returns the POSIX cksum(1) CRC of r's content, the checksum a
// Bom records for a regular file (mkbom and Apple's tools alike: the
// fixture's hello.txt has 1051740612, what `cksum` prints for it).
func Checksum(r io.Reader) (uint32, error) {
	var crc uint32
	var n uint64
	buf := make([]byte, 64<<10)
	for {
		k, err := r.Read(buf)
		for _, b := range buf[:k] {
			crc = crc<<8 ^ crcTable[byte(crc>>24)^b]
		}
		n += uint64(k)
		if err == io.EOF {
			break
		}
		if err != nil {
			return 0, fmt.Errorf("checksumming: %w", err)
		}
	}
	for ; n > 0; n >>= 8 {
		crc = crc<<8 ^ crcTable[byte(crc>>24)^byte(n)]
	}
	return ^crc, nil
}
