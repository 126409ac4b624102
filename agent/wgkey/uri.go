package wgkey

import (
	"encoding/base64"
	"errors"
	"fmt"
	"strings"

	"github.com/kiwistack/endpoint/enroll/protocol"
)

// URIPrefix starts the URI SAN that binds a WireGuard public key into the
// device certificate: URIPrefix followed by the 32-byte public key in
// unpadded base64url (RFC 4648, section 5). It is protocol.WireGuardURIPrefix.
const URIPrefix = protocol.WireGuardURIPrefix

// ErrInvalidURI is returned by ParseURI for anything that is not exactly a
// WireGuard public key URI.
var ErrInvalidURI = errors.New("invalid wireguard key uri")

// URI returns the certificate SAN URI that carries k's public key.
func (k Key) URI() (string, error) {
	return PublicKeyURI(k.PublicKey)
}

// PublicKeyURI returns the certificate SAN URI for a base64 (wg form)
// WireGuard public key.
func PublicKeyURI(publicKey string) (string, error) {
	return protocol.WireGuardURI(publicKey)
}

// ParseURI returns the base64 (wg form) public key that a SAN URI carries.
// It accepts only the canonical form PublicKeyURI writes, so that one key
// has exactly one URI.
func ParseURI(uri string) (string, error) {
	enc, ok := strings.CutPrefix(uri, URIPrefix)
	if !ok {
		return "", fmt.Errorf("parsing %q: no %s prefix: %w", uri, URIPrefix, ErrInvalidURI)
	}
	raw, err := base64.RawURLEncoding.Strict().DecodeString(enc)
	if err != nil {
		return "", fmt.Errorf("parsing %q: %w: %w", uri, ErrInvalidURI, err)
	}
	if len(raw) != 32 {
		return "", fmt.Errorf("parsing %q: key of %d bytes, not 32: %w", uri, len(raw), ErrInvalidURI)
	}
	return base64.StdEncoding.EncodeToString(raw), nil
}
