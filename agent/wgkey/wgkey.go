// Package wgkey derives a device's WireGuard key pair from its device key,
// deterministically and under a versioned label, so that the WireGuard key
// exists only where the device key exists (docs/wireguard-key.md).
//
// It owns the derivation, its version and the form in which the public key is
// bound into the device certificate (a SAN URI). It does not store keys,
// configure interfaces or talk to WireGuard; it never logs, and a Key prints
// without its private half.
package wgkey

import (
	"crypto"
	"crypto/ecdh"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/hkdf"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"strings"
)

// Version is the derivation version that Derive uses. A new version gets a
// new label; keys of an older version stay derivable with DeriveVersion.
const Version = 1

// labels maps each derivation version to its HKDF salt.
var labels = map[int]string{
	1: "kiwistack wireguard key v1",
}

// Key type names, written into the HKDF info so that the same 32 secret
// bytes read as a P-256 scalar and as an Ed25519 seed give different keys.
const (
	keyTypeP256    = "p256"
	keyTypeEd25519 = "ed25519"
)

var (
	// ErrUnsupportedKey is returned for a device key whose secret cannot be
	// read here: another curve, RSA, or a key held in hardware.
	ErrUnsupportedKey = errors.New("unsupported device key")
	// ErrUnsupportedVersion is returned for a derivation version this
	// package does not know.
	ErrUnsupportedVersion = errors.New("unsupported derivation version")
	// ErrInvalidName is returned for an empty, overlong or NUL-containing
	// tenant or device id.
	ErrInvalidName = errors.New("invalid tenant or device id")
)

// Key is a derived WireGuard key pair in the base64 form that wg(8) and
// wg-quick use.
type Key struct {
	// Version is the derivation version the key was made with.
	Version int
	// PrivateKey is the clamped Curve25519 private key, base64.
	PrivateKey string
	// PublicKey is the X25519 public key, base64.
	PublicKey string
}

// String returns the version and public key only, so that a Key written to
// a log never carries its private half.
func (k Key) String() string {
	return fmt.Sprintf("wgkey.Key{Version:%d PublicKey:%s}", k.Version, k.PublicKey)
}

// GoString is like String, for %#v.
func (k Key) GoString() string { return k.String() }

// Derive derives the WireGuard key of the device with id deviceID in tenant
// from its device key, with the current Version. The device key must be a
// software P-256 key (*ecdsa.PrivateKey or *ecdh.PrivateKey) or an Ed25519
// key (ed25519.PrivateKey or *ed25519.PrivateKey).
func Derive(deviceKey crypto.PrivateKey, tenant, deviceID string) (Key, error) {
	return DeriveVersion(Version, deviceKey, tenant, deviceID)
}

// DeriveVersion is Derive with an explicit derivation version.
func DeriveVersion(version int, deviceKey crypto.PrivateKey, tenant, deviceID string) (Key, error) {
	label, ok := labels[version]
	if !ok {
		return Key{}, fmt.Errorf("deriving wireguard key v%d: %w", version, ErrUnsupportedVersion)
	}
	if err := checkName("tenant", tenant); err != nil {
		return Key{}, fmt.Errorf("deriving wireguard key: %w", err)
	}
	if err := checkName("device id", deviceID); err != nil {
		return Key{}, fmt.Errorf("deriving wireguard key: %w", err)
	}
	keyType, secret, err := secretOf(deviceKey)
	if err != nil {
		return Key{}, fmt.Errorf("deriving wireguard key: %w", err)
	}
	defer clear(secret)

	priv, err := hkdf.Key(sha256.New, secret, []byte(label), string(info(keyType, tenant, deviceID)), 32)
	if err != nil {
		return Key{}, fmt.Errorf("deriving wireguard key: %w", err)
	}
	defer clear(priv)
	clamp(priv)
	x, err := ecdh.X25519().NewPrivateKey(priv)
	if err != nil {
		return Key{}, fmt.Errorf("deriving wireguard key: %w", err)
	}
	return Key{
		Version:    version,
		PrivateKey: base64.StdEncoding.EncodeToString(priv),
		PublicKey:  base64.StdEncoding.EncodeToString(x.PublicKey().Bytes()),
	}, nil
}

// checkName rejects what cannot be length-prefixed or would be ambiguous in
// other encodings of the same name (C strings, certificate fields).
func checkName(what, s string) error {
	switch {
	case s == "":
		return fmt.Errorf("%s is empty: %w", what, ErrInvalidName)
	case len(s) > math.MaxUint16:
		return fmt.Errorf("%s is %d bytes, more than %d: %w", what, len(s), math.MaxUint16, ErrInvalidName)
	case strings.IndexByte(s, 0) >= 0:
		return fmt.Errorf("%s contains NUL: %w", what, ErrInvalidName)
	}
	return nil
}

// info encodes the HKDF info: each field as a 2-byte big-endian length
// followed by its bytes, in the order key type, tenant, device id.
func info(keyType, tenant, deviceID string) []byte {
	b := make([]byte, 0, 6+len(keyType)+len(tenant)+len(deviceID))
	for _, f := range []string{keyType, tenant, deviceID} {
		b = binary.BigEndian.AppendUint16(b, uint16(len(f)))
		b = append(b, f...)
	}
	return b
}

// secretOf returns the key type name and a fresh copy of the device key's
// secret: the 32-byte big-endian P-256 scalar, or the 32-byte Ed25519 seed.
func secretOf(k crypto.PrivateKey) (string, []byte, error) {
	switch k := k.(type) {
	case *ecdsa.PrivateKey:
		if k == nil || k.Curve != elliptic.P256() {
			return "", nil, fmt.Errorf("ecdsa key not on P-256: %w", ErrUnsupportedKey)
		}
		b, err := k.Bytes()
		if err != nil {
			return "", nil, fmt.Errorf("reading ecdsa scalar: %w", err)
		}
		return keyTypeP256, b, nil
	case *ecdh.PrivateKey:
		if k == nil || k.Curve() != ecdh.P256() {
			return "", nil, fmt.Errorf("ecdh key not on P-256: %w", ErrUnsupportedKey)
		}
		return keyTypeP256, k.Bytes(), nil
	case ed25519.PrivateKey:
		if len(k) != ed25519.PrivateKeySize {
			return "", nil, fmt.Errorf("ed25519 key of %d bytes: %w", len(k), ErrUnsupportedKey)
		}
		return keyTypeEd25519, append([]byte(nil), k.Seed()...), nil
	case *ed25519.PrivateKey:
		if k == nil {
			return "", nil, fmt.Errorf("nil ed25519 key: %w", ErrUnsupportedKey)
		}
		return secretOf(*k)
	default:
		return "", nil, fmt.Errorf("%T: %w", k, ErrUnsupportedKey)
	}
}

// clamp turns 32 random bytes into a Curve25519 private key (RFC 7748,
// section 5), as wg genkey does.
func clamp(k []byte) {
	k[0] &= 248
	k[31] &= 127
	k[31] |= 64
}
