package escrow

import (
	"crypto/ecdh"
	"crypto/hpke"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
)

// Envelope prefixes: the format version and purpose, checked before
// anything else is read.
const (
	// SealedPrefix starts a recovery key sealed to the tenant's escrow key.
	SealedPrefix = "kse1."
	// ReleasePrefix starts a recovery key re-sealed to an administrator's
	// one-time key by the read_recovery_key operation.
	ReleasePrefix = "ksr1."
	// PublicKeyPrefix starts an escrow or release public key in text.
	PublicKeyPrefix = "x25519:"
	// MaxSealedLen bounds a sealed text: far more than a 55-byte key needs.
	MaxSealedLen = 512
)

// HPKE labels (info) of the two envelopes: a sealed key cannot be passed
// off as a release, nor the other way round.
const (
	infoSealed  = "kiwistack disk-escrow v1"
	infoRelease = "kiwistack recovery-key release v1"
)

// ErrEnvelope is wrapped by every error of Open: a malformed envelope, a
// wrong key or a tampered or rebound ciphertext (the AEAD fails).
var ErrEnvelope = errors.New("escrow envelope does not open")

var kem = hpke.DHKEM(ecdh.X25519())

func suite() (hpke.KDF, hpke.AEAD) { return hpke.HKDFSHA256(), hpke.AES256GCM() }

// Binding is what a sealed key is bound to (the AEAD's additional data):
// opening it with any other value fails.
type Binding struct {
	// Tenant and DeviceID are the device's tenant slug and id.
	Tenant, DeviceID string
	// Volume is the LUKS UUID (or the FileVault / BitLocker volume id)
	// for a sealed key, the operation id for a release.
	Volume string
}

// aad encodes b unambiguously (each field length-prefixed).
func (b Binding) aad() []byte {
	var out []byte
	for _, s := range []string{b.Tenant, b.DeviceID, b.Volume} {
		out = fmt.Appendf(out, "%d:%s;", len(s), s)
	}
	return out
}

// PrivateKey is an escrow (or one-time release) private key.
type PrivateKey struct{ k hpke.PrivateKey }

// GenerateKey makes a new X25519 key pair.
func GenerateKey() (*PrivateKey, error) {
	k, err := kem.GenerateKey()
	if err != nil {
		return nil, fmt.Errorf("generating an escrow key: %w", err)
	}
	return &PrivateKey{k}, nil
}

// ParsePrivateKey reads the 32 bytes Bytes returned.
func ParsePrivateKey(b []byte) (*PrivateKey, error) {
	k, err := kem.NewPrivateKey(b)
	if err != nil {
		return nil, fmt.Errorf("escrow private key: %w", err)
	}
	return &PrivateKey{k}, nil
}

// Bytes is the private key's RFC 9180 serialization (32 bytes).
func (p *PrivateKey) Bytes() []byte {
	b, _ := p.k.Bytes() // X25519 keys always serialize
	return b
}

// Public is the public key's text form ("x25519:" and base64url).
func (p *PrivateKey) Public() string {
	return PublicKeyPrefix + base64.RawURLEncoding.EncodeToString(p.k.PublicKey().Bytes())
}

// ParsePublicKey reads a public key's text form.
func ParsePublicKey(s string) (hpke.PublicKey, error) {
	rest, ok := strings.CutPrefix(s, PublicKeyPrefix)
	if !ok {
		return nil, fmt.Errorf("escrow public key: want %q and 43 characters of base64url", PublicKeyPrefix)
	}
	b, err := base64.RawURLEncoding.DecodeString(rest)
	if err != nil || len(b) != 32 {
		return nil, fmt.Errorf("escrow public key: want %q and 43 characters of base64url", PublicKeyPrefix)
	}
	pk, err := kem.NewPublicKey(b)
	if err != nil {
		return nil, fmt.Errorf("escrow public key: %w", err)
	}
	return pk, nil
}

// Seal seals key to the tenant's escrow public key pub (text form), bound
// to b; the result is the text SealedPrefix + base64url(enc ‖ ciphertext).
func Seal(pub string, b Binding, key RecoveryKey) (string, error) {
	return seal(SealedPrefix, infoSealed, pub, b, key)
}

// Open opens a Seal result with the escrow private key and the same
// binding.
func (p *PrivateKey) Open(sealed string, b Binding) (RecoveryKey, error) {
	return p.open(SealedPrefix, infoSealed, sealed, b)
}

// SealRelease re-seals key to an administrator's one-time public key,
// bound to tenant, device and the operation id (b.Volume).
func SealRelease(pub string, b Binding, key RecoveryKey) (string, error) {
	return seal(ReleasePrefix, infoRelease, pub, b, key)
}

// OpenRelease opens a SealRelease result with the one-time private key.
func (p *PrivateKey) OpenRelease(sealed string, b Binding) (RecoveryKey, error) {
	return p.open(ReleasePrefix, infoRelease, sealed, b)
}

func seal(prefix, info, pub string, b Binding, key RecoveryKey) (string, error) {
	pk, err := ParsePublicKey(pub)
	if err != nil {
		return "", err
	}
	kdf, aead := suite()
	enc, s, err := hpke.NewSender(pk, kdf, aead, []byte(info))
	if err != nil {
		return "", fmt.Errorf("sealing the recovery key: %w", err)
	}
	ct, err := s.Seal(b.aad(), key[:])
	if err != nil {
		return "", fmt.Errorf("sealing the recovery key: %w", err)
	}
	return prefix + base64.RawURLEncoding.EncodeToString(append(enc, ct...)), nil
}

// encLen is the length of an X25519 encapsulated key; ctLen of the
// ciphertext of a 16-byte key with its 16-byte tag.
const (
	encLen = 32
	ctLen  = len(RecoveryKey{}) + 16
)

func (p *PrivateKey) open(prefix, info, sealed string, b Binding) (RecoveryKey, error) {
	var k RecoveryKey
	rest, ok := strings.CutPrefix(sealed, prefix)
	if !ok || len(sealed) > MaxSealedLen {
		return k, fmt.Errorf("%w: want %q and base64url", ErrEnvelope, prefix)
	}
	raw, err := base64.RawURLEncoding.DecodeString(rest)
	if err != nil || len(raw) != encLen+ctLen {
		return k, fmt.Errorf("%w: want %q and %d bytes of base64url", ErrEnvelope, prefix, encLen+ctLen)
	}
	kdf, aead := suite()
	r, err := hpke.NewRecipient(raw[:encLen], p.k, kdf, aead, []byte(info))
	if err != nil {
		return k, fmt.Errorf("%w: %w", ErrEnvelope, err)
	}
	pt, err := r.Open(b.aad(), raw[encLen:])
	if err != nil {
		return k, fmt.Errorf("%w: tampered, bound to another tenant, device or volume, or sealed to another key", ErrEnvelope)
	}
	copy(k[:], pt)
	return k, nil
}
