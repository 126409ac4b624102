package sign

import (
	"crypto/ed25519"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"

	"golang.org/x/crypto/blake2b"
	"golang.org/x/crypto/scrypt"
)

var (
	kdfNone   = [2]byte{0, 0}
	kdfScrypt = [2]byte{'S', 'c'}
	chkBlake2 = [2]byte{'B', '2'}
)

// ErrPassword means an encrypted secret key was given no password or the
// wrong one.
var ErrPassword = errors.New("wrong or missing password for the encrypted secret key")

const secretKeyLen = 2 + 2 + 2 + 32 + 8 + 8 + 8 + ed25519.PrivateKeySize + 32

// MarshalText renders k as an unencrypted secret key file, as
// `minisign -G -W` writes it; minisign -S signs with it.
func (k *SecretKey) MarshalText() ([]byte, error) {
	raw := make([]byte, 0, secretKeyLen)
	raw = append(raw, algLegacy[:]...)
	raw = append(raw, kdfNone[:]...)
	raw = append(raw, chkBlake2[:]...)
	raw = append(raw, make([]byte, 32+8+8)...) // salt, opslimit, memlimit: unused without a KDF
	raw = append(raw, k.ID[:]...)
	raw = append(raw, k.Key...)
	raw = append(raw, k.checksum()...)
	return fmt.Appendf(nil, "%sminisign secret key %s (unencrypted)\n%s\n", untrustedPrefix, k.ID,
		base64.StdEncoding.EncodeToString(raw)), nil
}

func (k *SecretKey) checksum() []byte {
	h, _ := blake2b.New256(nil)
	h.Write(algLegacy[:])
	h.Write(k.ID[:])
	h.Write(k.Key)
	return h.Sum(nil)
}

// ParseSecretKey reads a minisign secret key file. Unencrypted keys
// (`minisign -G -W`) need no password; encrypted ones (scrypt, minisign's
// default) are decrypted with password, which costs what the key file asks
// (1 GiB of memory for minisign's defaults).
func ParseSecretKey(b, password []byte) (*SecretKey, error) {
	lines := splitLines(b)
	if len(lines) != 2 || !hasUntrusted(lines[0]) {
		return nil, fmt.Errorf("secret key: %w: want an untrusted comment line and a base64 line", ErrMalformed)
	}
	raw, err := base64.StdEncoding.Strict().DecodeString(lines[1])
	if err != nil || len(raw) != secretKeyLen {
		return nil, fmt.Errorf("secret key: %w: not %d bytes of base64", ErrMalformed, secretKeyLen)
	}
	if [2]byte(raw[0:2]) != algLegacy || [2]byte(raw[4:6]) != chkBlake2 {
		return nil, fmt.Errorf("secret key: %w: algorithms %q/%q, want Ed/B2", ErrMalformed, raw[0:2], raw[4:6])
	}
	salt, ops, mem := raw[6:38], binary.LittleEndian.Uint64(raw[38:46]), binary.LittleEndian.Uint64(raw[46:54])
	keynum := raw[54:]
	switch [2]byte(raw[2:4]) {
	case kdfNone:
	case kdfScrypt:
		if len(password) == 0 {
			return nil, fmt.Errorf("secret key: %w", ErrPassword)
		}
		logN, r, p, err := scryptParams(ops, mem)
		if err != nil {
			return nil, fmt.Errorf("secret key: %w", err)
		}
		stream, err := scrypt.Key(password, salt, 1<<logN, r, p, len(keynum))
		if err != nil {
			return nil, fmt.Errorf("secret key: deriving the decryption key: %w", err)
		}
		for i := range keynum {
			keynum[i] ^= stream[i]
		}
	default:
		return nil, fmt.Errorf("secret key: %w: key derivation %q, want Sc or none", ErrMalformed, raw[2:4])
	}
	k := &SecretKey{ID: KeyID(keynum[:8]), Key: ed25519.PrivateKey(keynum[8 : 8+ed25519.PrivateKeySize])}
	chk := keynum[8+ed25519.PrivateKeySize:]
	// minisign 0.11 leaves the checksum of an unencrypted key zero.
	unencryptedZero := [2]byte(raw[2:4]) == kdfNone && equal(chk, make([]byte, len(chk)))
	if !unencryptedZero && !equal(k.checksum(), chk) {
		if [2]byte(raw[2:4]) == kdfScrypt {
			return nil, fmt.Errorf("secret key: %w", ErrPassword)
		}
		return nil, fmt.Errorf("secret key: %w: checksum mismatch", ErrMalformed)
	}
	// The public half stored in the key must be the one its seed makes.
	if !equal(ed25519.NewKeyFromSeed(k.Key.Seed()), k.Key) {
		return nil, fmt.Errorf("secret key: %w: public half does not match the seed", ErrMalformed)
	}
	return k, nil
}

// scryptParams turns libsodium's crypto_pwhash_scryptsalsa208sha256
// opslimit and memlimit into scrypt's N (as log2), r and p, as libsodium's
// pickparams does, refusing what would need more than 2 GiB.
func scryptParams(ops, mem uint64) (logN uint, r, p int, err error) {
	if ops < 32768 {
		ops = 32768
	}
	r = 8
	var maxN uint64
	if ops < mem/32 {
		p = 1
		maxN = ops / uint64(r*4)
	} else {
		maxN = mem / uint64(r*128)
	}
	for logN = 1; logN < 63; logN++ {
		if uint64(1)<<logN > maxN/2 {
			break
		}
	}
	if ops >= mem/32 {
		maxrp := (ops / 4) / (uint64(1) << logN)
		if maxrp > 0x3fffffff {
			maxrp = 0x3fffffff
		}
		p = int(maxrp) / r
	}
	if logN > 21 || p < 1 || p > 16 {
		return 0, 0, 0, fmt.Errorf("%w: scrypt limits ops=%d mem=%d out of range", ErrMalformed, ops, mem)
	}
	return logN, r, p, nil
}

func hasUntrusted(line string) bool {
	return len(line) >= len(untrustedPrefix) && line[:len(untrustedPrefix)] == untrustedPrefix
}
