package sign

import (
	"bytes"
	"crypto/ed25519"
	"crypto/subtle"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"strings"

	"golang.org/x/crypto/blake2b"
)

// Suffix is the name minisign gives a file's detached signature: FILE.minisig.
const Suffix = ".minisig"

const (
	untrustedPrefix = "untrusted comment: "
	trustedPrefix   = "trusted comment: "
	maxComment      = 1024 // minisign's COMMENTMAXBYTES
	maxTrusted      = 8192 // minisign's TRUSTEDCOMMENTMAXBYTES
)

var (
	algLegacy    = [2]byte{'E', 'd'} // signature over the file itself
	algPrehashed = [2]byte{'E', 'D'} // signature over BLAKE2b-512 of the file
)

var (
	// ErrMalformed is wrapped by every error about a key or signature that
	// cannot be parsed.
	ErrMalformed = errors.New("malformed")
	// ErrWrongKey means the signature was made by another key (key ids differ).
	ErrWrongKey = errors.New("signed by another key")
	// ErrBadSignature means the signature or its trusted comment does not
	// verify: the file or the comment was changed, or the signature forged.
	ErrBadSignature = errors.New("signature does not verify")
)

// KeyID identifies a key pair; it is stored in keys and signatures.
type KeyID [8]byte

// String renders the id as minisign prints it: 16 upper-case hex digits of
// the little-endian number.
func (id KeyID) String() string { return fmt.Sprintf("%016X", binary.LittleEndian.Uint64(id[:])) }

// PublicKey is a minisign public key.
type PublicKey struct {
	ID  KeyID
	Key ed25519.PublicKey
}

// SecretKey is a minisign secret key, decrypted.
type SecretKey struct {
	ID  KeyID
	Key ed25519.PrivateKey
}

// GenerateKey makes a key pair from rand (crypto/rand.Reader outside tests).
func GenerateKey(rand io.Reader) (*SecretKey, error) {
	var id KeyID
	if _, err := io.ReadFull(rand, id[:]); err != nil {
		return nil, fmt.Errorf("generating key id: %w", err)
	}
	_, priv, err := ed25519.GenerateKey(rand)
	if err != nil {
		return nil, fmt.Errorf("generating key: %w", err)
	}
	return &SecretKey{ID: id, Key: priv}, nil
}

// Public returns the public half of k.
func (k *SecretKey) Public() PublicKey {
	return PublicKey{ID: k.ID, Key: k.Key.Public().(ed25519.PublicKey)}
}

// String is the base64 line of the public key, as `minisign -P` takes it.
func (p PublicKey) String() string {
	b := append([]byte{}, algLegacy[:]...)
	b = append(b, p.ID[:]...)
	b = append(b, p.Key...)
	return base64.StdEncoding.EncodeToString(b)
}

// MarshalText renders the public key file (minisign.pub).
func (p PublicKey) MarshalText() ([]byte, error) {
	return fmt.Appendf(nil, "%sminisign public key %s\n%s\n", untrustedPrefix, p.ID, p), nil
}

// ParsePublicKey reads a public key file, or its base64 line alone.
func ParsePublicKey(b []byte) (PublicKey, error) {
	lines := splitLines(b)
	var line string
	switch {
	case len(lines) == 1:
		line = lines[0]
	case len(lines) == 2 && strings.HasPrefix(lines[0], untrustedPrefix):
		line = lines[1]
	default:
		return PublicKey{}, fmt.Errorf("public key: %w: want an untrusted comment line and a base64 line", ErrMalformed)
	}
	raw, err := base64.StdEncoding.Strict().DecodeString(line)
	if err != nil {
		return PublicKey{}, fmt.Errorf("public key: %w: %w", ErrMalformed, err)
	}
	if len(raw) != 2+8+ed25519.PublicKeySize {
		return PublicKey{}, fmt.Errorf("public key: %w: %d bytes, want 42", ErrMalformed, len(raw))
	}
	if [2]byte(raw[:2]) != algLegacy {
		return PublicKey{}, fmt.Errorf("public key: %w: algorithm %q, want Ed", ErrMalformed, raw[:2])
	}
	return PublicKey{ID: KeyID(raw[2:10]), Key: ed25519.PublicKey(raw[10:])}, nil
}

// Signature is a detached minisign signature.
type Signature struct {
	UntrustedComment string
	Prehashed        bool // algorithm ED (BLAKE2b-512 of the file), else Ed
	KeyID            KeyID
	Sig              [ed25519.SignatureSize]byte
	TrustedComment   string // signed by GlobalSig; shown by minisign -V
	GlobalSig        [ed25519.SignatureSize]byte
}

// Sign signs what r yields with k, prehashed as minisign does by default.
// trusted is the trusted comment (one line, e.g. "timestamp:… file:…").
func Sign(k *SecretKey, r io.Reader, trusted string) (*Signature, error) {
	if strings.ContainsAny(trusted, "\r\n") || len(trusted) > maxTrusted {
		return nil, fmt.Errorf("signing: trusted comment must be one line of at most %d bytes", maxTrusted)
	}
	digest, err := prehash(r)
	if err != nil {
		return nil, fmt.Errorf("signing: %w", err)
	}
	s := &Signature{
		UntrustedComment: "signature from minisign secret key",
		Prehashed:        true,
		KeyID:            k.ID,
		TrustedComment:   trusted,
	}
	copy(s.Sig[:], ed25519.Sign(k.Key, digest))
	copy(s.GlobalSig[:], ed25519.Sign(k.Key, s.globalMessage()))
	return s, nil
}

// Verify checks s over what r yields with key p: the key id, the signature
// over the content and the global signature over the trusted comment.
func Verify(p PublicKey, s *Signature, r io.Reader) error {
	if s.KeyID != p.ID {
		return fmt.Errorf("%w: signature key id %s, trusted key id %s", ErrWrongKey, s.KeyID, p.ID)
	}
	var msg []byte
	var err error
	if s.Prehashed {
		msg, err = prehash(r)
	} else {
		msg, err = io.ReadAll(r)
	}
	if err != nil {
		return fmt.Errorf("verifying: reading the signed file: %w", err)
	}
	if !ed25519.Verify(p.Key, msg, s.Sig[:]) {
		return fmt.Errorf("%w: the file is not the one that was signed", ErrBadSignature)
	}
	if !ed25519.Verify(p.Key, s.globalMessage(), s.GlobalSig[:]) {
		return fmt.Errorf("%w: the trusted comment was changed", ErrBadSignature)
	}
	return nil
}

func (s *Signature) globalMessage() []byte {
	return append(append([]byte{}, s.Sig[:]...), s.TrustedComment...)
}

// MarshalText renders the signature file (FILE.minisig), four lines.
func (s *Signature) MarshalText() ([]byte, error) {
	alg := algLegacy
	if s.Prehashed {
		alg = algPrehashed
	}
	raw := append(append(alg[:], s.KeyID[:]...), s.Sig[:]...)
	var b bytes.Buffer
	fmt.Fprintf(&b, "%s%s\n%s\n%s%s\n%s\n", untrustedPrefix, s.UntrustedComment,
		base64.StdEncoding.EncodeToString(raw), trustedPrefix, s.TrustedComment,
		base64.StdEncoding.EncodeToString(s.GlobalSig[:]))
	return b.Bytes(), nil
}

// ParseSignature reads a signature file. It checks the form only; Verify
// checks the cryptography.
func ParseSignature(b []byte) (*Signature, error) {
	lines := splitLines(b)
	if len(lines) != 4 {
		return nil, fmt.Errorf("signature: %w: %d lines, want 4 (truncated?)", ErrMalformed, len(lines))
	}
	if !strings.HasPrefix(lines[0], untrustedPrefix) || len(lines[0]) > len(untrustedPrefix)+maxComment {
		return nil, fmt.Errorf("signature: %w: line 1 is not an untrusted comment", ErrMalformed)
	}
	if !strings.HasPrefix(lines[2], trustedPrefix) || len(lines[2]) > len(trustedPrefix)+maxTrusted {
		return nil, fmt.Errorf("signature: %w: line 3 is not a trusted comment", ErrMalformed)
	}
	raw, err := base64.StdEncoding.Strict().DecodeString(lines[1])
	if err != nil || len(raw) != 2+8+ed25519.SignatureSize {
		return nil, fmt.Errorf("signature: %w: line 2 is not 74 bytes of base64", ErrMalformed)
	}
	global, err := base64.StdEncoding.Strict().DecodeString(lines[3])
	if err != nil || len(global) != ed25519.SignatureSize {
		return nil, fmt.Errorf("signature: %w: line 4 is not 64 bytes of base64", ErrMalformed)
	}
	s := &Signature{
		UntrustedComment: strings.TrimPrefix(lines[0], untrustedPrefix),
		KeyID:            KeyID(raw[2:10]),
		TrustedComment:   strings.TrimPrefix(lines[2], trustedPrefix),
	}
	switch [2]byte(raw[:2]) {
	case algPrehashed:
		s.Prehashed = true
	case algLegacy:
	default:
		return nil, fmt.Errorf("signature: %w: algorithm %q, want ED or Ed", ErrMalformed, raw[:2])
	}
	copy(s.Sig[:], raw[10:])
	copy(s.GlobalSig[:], global)
	return s, nil
}

func prehash(r io.Reader) ([]byte, error) {
	h, _ := blake2b.New512(nil)
	if _, err := io.Copy(h, r); err != nil {
		return nil, err
	}
	return h.Sum(nil), nil
}

// splitLines splits on \n, dropping a final empty line and \r before \n.
func splitLines(b []byte) []string {
	s := strings.TrimSuffix(string(b), "\n")
	if s == "" {
		return nil
	}
	lines := strings.Split(s, "\n")
	for i, l := range lines {
		lines[i] = strings.TrimSuffix(l, "\r")
	}
	return lines
}

// equal compares secrets in constant time.
func equal(a, b []byte) bool { return subtle.ConstantTimeCompare(a, b) == 1 }
