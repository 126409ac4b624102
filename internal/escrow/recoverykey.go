package escrow

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
)

// Recovery key layout: Groups groups of GroupDigits digits; each group is
// a 16-bit block of the key times 11, so that a group that is not a
// multiple of 11 (or is 720896 or more) is a typo.
const (
	Groups      = 8
	GroupDigits = 6
	// KeyBits is the entropy of a recovery key.
	KeyBits = Groups * 16
	// groupMax is the first value no group may reach (65536 × 11).
	groupMax = 65536 * 11
)

// ErrRecoveryKey is wrapped by every error of ParseRecoveryKey.
var ErrRecoveryKey = errors.New("not a recovery key")

// RecoveryKey is a recovery key: 128 random bits.
type RecoveryKey [KeyBits / 8]byte

// NewRecoveryKey draws a key from random (crypto/rand when nil).
func NewRecoveryKey(random io.Reader) (RecoveryKey, error) {
	var k RecoveryKey
	if random == nil {
		random = rand.Reader
	}
	if _, err := io.ReadFull(random, k[:]); err != nil {
		return k, fmt.Errorf("drawing a recovery key: %w", err)
	}
	return k, nil
}

// String is the canonical form, 8 groups of 6 digits joined by dashes
// ("123456-…"): what is shown to people and what LUKS gets as the
// passphrase.
func (k RecoveryKey) String() string {
	var b strings.Builder
	for i := range Groups {
		if i > 0 {
			b.WriteByte('-')
		}
		v := uint32(binary.BigEndian.Uint16(k[2*i:])) * 11
		s := strconv.FormatUint(uint64(v), 10)
		b.WriteString(strings.Repeat("0", GroupDigits-len(s)))
		b.WriteString(s)
	}
	return b.String()
}

// Equal compares in constant time.
func (k RecoveryKey) Equal(o RecoveryKey) bool { return subtle.ConstantTimeCompare(k[:], o[:]) == 1 }

// ParseRecoveryKey reads a recovery key as a person types it: digits in 8
// groups of 6, with any spaces, dashes or line breaks between (or none).
// Errors wrap ErrRecoveryKey and name the group with the typo.
func ParseRecoveryKey(s string) (RecoveryKey, error) {
	var k RecoveryKey
	digits := make([]byte, 0, Groups*GroupDigits)
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= '0' && c <= '9':
			if len(digits) == Groups*GroupDigits {
				return k, fmt.Errorf("%w: more than %d digits; a recovery key is %d groups of %d digits", ErrRecoveryKey, Groups*GroupDigits, Groups, GroupDigits)
			}
			digits = append(digits, c)
		case c == ' ' || c == '-' || c == '\t' || c == '\n' || c == '\r':
		default:
			return k, fmt.Errorf("%w: character %q at position %d; a recovery key has only digits, spaces and dashes", ErrRecoveryKey, c, i+1)
		}
	}
	if len(digits) != Groups*GroupDigits {
		return k, fmt.Errorf("%w: %d digits; a recovery key is %d groups of %d digits (%d digits)", ErrRecoveryKey, len(digits), Groups, GroupDigits, Groups*GroupDigits)
	}
	for i := range Groups {
		g := digits[i*GroupDigits : (i+1)*GroupDigits]
		v, _ := strconv.ParseUint(string(g), 10, 32) // six ASCII digits
		if v%11 != 0 || v >= groupMax {
			return k, fmt.Errorf("%w: group %d (%s) has a typo; check it against the printed key", ErrRecoveryKey, i+1, g)
		}
		binary.BigEndian.PutUint16(k[2*i:], uint16(v/11))
	}
	return k, nil
}
