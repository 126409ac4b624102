package protocol

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/asn1"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"strings"
	"time"
)

// MediaType is the JWS "typ" header of a signed statement (explicit typing,
// RFC 8725 section 3.11): a statement is never mistaken for another JWT.
const MediaType = "kiwistack-statement+jwt"

// Algorithms accepted in the "alg" header.
const (
	AlgES256 = "ES256" // ECDSA P-256 with SHA-256
	AlgES384 = "ES384" // ECDSA P-384 with SHA-384
)

// MaxCompactSize is the largest compact serialization Parse accepts.
const MaxCompactSize = 64 << 10

// maxChain is the largest number of certificates in the x5c header.
const maxChain = 4

// forbiddenHeaders are JOSE headers that would let the sender choose the key
// or extend processing; Parse names them in its error.
var forbiddenHeaders = []string{"jku", "jwk", "x5u", "kid", "crit", "x5t", "x5t#S256", "b64", "zip", "enc"}

// Header is the protected JOSE header of a signed statement. It has exactly
// these members; any other member makes Parse fail.
type Header struct {
	// Alg is AlgES256 or AlgES384 and matches the signer's key.
	Alg string `json:"alg"`
	// Typ is MediaType.
	Typ string `json:"typ"`
	// X5C is the signer's slot 9a certificate followed by optional
	// intermediates, each DER in standard base64 (RFC 7515 section 4.1.6).
	X5C []string `json:"x5c"`
}

// Signed is a parsed, not yet verified, signed statement.
type Signed struct {
	// Header is the decoded protected header.
	Header Header
	// Chain is the parsed x5c: the signer's certificate first.
	Chain []*x509.Certificate

	statement Statement
	input     []byte // the JWS signing input
	sig       []byte // raw r||s
}

// Signer signs a digest with the signer's private key (slot 9a) and returns
// an ASN.1 DER ECDSA signature, as crypto.Signer and the YubiKey do. The
// digest is SHA-256 for ES256 and SHA-384 for ES384.
type Signer func(digest []byte) ([]byte, error)

// SigningInput returns the JWS signing input of a protected header and a
// payload: BASE64URL(header) || '.' || BASE64URL(payload).
func SigningInput(header, payload []byte) []byte {
	enc := base64.RawURLEncoding
	out := make([]byte, enc.EncodedLen(len(header))+1+enc.EncodedLen(len(payload)))
	enc.Encode(out, header)
	out[enc.EncodedLen(len(header))] = '.'
	enc.Encode(out[enc.EncodedLen(len(header))+1:], payload)
	return out
}

// algFor returns the algorithm, hash and coordinate size for a public key.
func algFor(pub any) (alg string, h crypto.Hash, size int, err error) {
	k, ok := pub.(*ecdsa.PublicKey)
	if !ok {
		return "", 0, 0, fmt.Errorf("%w: signer key is %T, want ECDSA", ErrAlgorithm, pub)
	}
	switch k.Curve {
	case elliptic.P256():
		return AlgES256, crypto.SHA256, 32, nil
	case elliptic.P384():
		return AlgES384, crypto.SHA384, 48, nil
	}
	return "", 0, 0, fmt.Errorf("%w: curve %s is not accepted, want P-256 or P-384", ErrAlgorithm, k.Curve.Params().Name)
}

// Sign validates stmt, builds the protected header from chain (the signer's
// slot 9a certificate first, then optional intermediates), has signer sign the
// digest of the signing input, converts the ASN.1 signature to JOSE's r||s,
// checks it against the certificate's key, and returns the compact
// serialization.
func Sign(ctx context.Context, signer Signer, chain []*x509.Certificate, stmt *Statement) (string, error) {
	if stmt == nil {
		return "", fmt.Errorf("%w: no statement", ErrStatement)
	}
	if err := stmt.Validate(); err != nil {
		return "", err
	}
	if len(chain) == 0 || len(chain) > maxChain {
		return "", fmt.Errorf("%w: want 1-%d certificates, have %d", ErrChain, maxChain, len(chain))
	}
	alg, h, size, err := algFor(chain[0].PublicKey)
	if err != nil {
		return "", err
	}
	hdr := Header{Alg: alg, Typ: MediaType}
	for _, c := range chain {
		hdr.X5C = append(hdr.X5C, base64.StdEncoding.EncodeToString(c.Raw))
	}
	hj, err := json.Marshal(hdr)
	if err != nil {
		return "", fmt.Errorf("encoding header: %w", err)
	}
	pj, err := json.Marshal(stmt)
	if err != nil {
		return "", fmt.Errorf("encoding statement: %w", err)
	}
	input := SigningInput(hj, pj)
	hh := h.New()
	hh.Write(input)
	digest := hh.Sum(nil)
	if err := ctx.Err(); err != nil {
		return "", fmt.Errorf("signing statement: %w", err)
	}
	der, err := signer(digest)
	if err != nil {
		return "", fmt.Errorf("signing statement: %w", err)
	}
	raw, err := derToRaw(der, size)
	if err != nil {
		return "", err
	}
	if !verifyRaw(chain[0].PublicKey.(*ecdsa.PublicKey), digest, raw) {
		return "", fmt.Errorf("%w: the signer's key does not match the certificate", ErrSignature)
	}
	return string(input) + "." + base64.RawURLEncoding.EncodeToString(raw), nil
}

// ecdsaSig is the ASN.1 structure of an ECDSA signature.
type ecdsaSig struct {
	R, S *big.Int
}

// derToRaw converts an ASN.1 DER ECDSA signature to fixed-width r||s.
func derToRaw(der []byte, size int) ([]byte, error) {
	var s ecdsaSig
	rest, err := asn1.Unmarshal(der, &s)
	if err != nil {
		return nil, fmt.Errorf("%w: signer returned a malformed ASN.1 signature: %w", ErrSignature, err)
	}
	if len(rest) != 0 {
		return nil, fmt.Errorf("%w: trailing data after ASN.1 signature", ErrSignature)
	}
	if s.R.Sign() <= 0 || s.S.Sign() <= 0 || s.R.BitLen() > size*8 || s.S.BitLen() > size*8 {
		return nil, fmt.Errorf("%w: signature values out of range", ErrSignature)
	}
	out := make([]byte, 2*size)
	s.R.FillBytes(out[:size])
	s.S.FillBytes(out[size:])
	return out, nil
}

// verifyRaw verifies a raw r||s signature over digest.
func verifyRaw(pub *ecdsa.PublicKey, digest, raw []byte) bool {
	size := len(raw) / 2
	r := new(big.Int).SetBytes(raw[:size])
	s := new(big.Int).SetBytes(raw[size:])
	return ecdsa.Verify(pub, digest, r, s)
}

// decodePart decodes one base64url (no padding) part of a compact JWS.
func decodePart(name, part string) ([]byte, error) {
	if part == "" {
		return nil, fmt.Errorf("%w: empty %s", ErrMalformed, name)
	}
	b, err := base64.RawURLEncoding.Strict().DecodeString(part)
	if err != nil {
		return nil, fmt.Errorf("%w: %s is not base64url without padding: %w", ErrMalformed, name, err)
	}
	return b, nil
}

// Parse decodes a compact signed statement strictly: at most MaxCompactSize
// bytes, exactly three base64url parts without padding, a protected header
// with exactly alg, typ and x5c (no jku, jwk, x5u, kid or crit), alg ES256
// or ES384 matching the signer certificate's curve, typ MediaType, 1-4
// parseable certificates, and a payload that is a Statement without
// duplicate or unknown members. It does not verify anything: call Verify.
func Parse(compact string) (*Signed, error) {
	if len(compact) > MaxCompactSize {
		return nil, fmt.Errorf("%w: statement larger than %d bytes", ErrMalformed, MaxCompactSize)
	}
	parts := strings.Split(compact, ".")
	if len(parts) != 3 {
		return nil, fmt.Errorf("%w: want 3 dot-separated parts, have %d", ErrMalformed, len(parts))
	}
	hj, err := decodePart("header", parts[0])
	if err != nil {
		return nil, err
	}
	pj, err := decodePart("payload", parts[1])
	if err != nil {
		return nil, err
	}
	sig, err := decodePart("signature", parts[2])
	if err != nil {
		return nil, err
	}
	var members map[string]json.RawMessage
	if err := unmarshalStrict(hj, &members); err != nil {
		return nil, fmt.Errorf("header: %w", err)
	}
	for _, name := range forbiddenHeaders {
		if _, ok := members[name]; ok {
			return nil, fmt.Errorf("%w: header %q is not accepted", ErrMalformed, name)
		}
	}
	var s Signed
	if err := unmarshalStrict(hj, &s.Header); err != nil {
		return nil, fmt.Errorf("header: %w", err)
	}
	switch s.Header.Alg {
	case AlgES256, AlgES384:
	default:
		return nil, fmt.Errorf("%w: alg %q, want %s or %s", ErrAlgorithm, s.Header.Alg, AlgES256, AlgES384)
	}
	if s.Header.Typ != MediaType {
		return nil, fmt.Errorf("%w: typ %q, want %q", ErrMalformed, s.Header.Typ, MediaType)
	}
	if len(s.Header.X5C) == 0 || len(s.Header.X5C) > maxChain {
		return nil, fmt.Errorf("%w: x5c must hold 1-%d certificates, has %d", ErrMalformed, maxChain, len(s.Header.X5C))
	}
	for i, enc := range s.Header.X5C {
		der, err := base64.StdEncoding.Strict().DecodeString(enc)
		if err != nil {
			return nil, fmt.Errorf("%w: x5c[%d] is not standard base64: %w", ErrMalformed, i, err)
		}
		c, err := x509.ParseCertificate(der)
		if err != nil {
			return nil, fmt.Errorf("%w: x5c[%d]: %w", ErrMalformed, i, err)
		}
		s.Chain = append(s.Chain, c)
	}
	alg, _, size, err := algFor(s.Chain[0].PublicKey)
	if err != nil {
		return nil, err
	}
	if alg != s.Header.Alg {
		return nil, fmt.Errorf("%w: alg %s does not match the signer's key (%s)", ErrAlgorithm, s.Header.Alg, alg)
	}
	if len(sig) != 2*size {
		return nil, fmt.Errorf("%w: signature is %d bytes, want %d", ErrSignature, len(sig), 2*size)
	}
	if err := unmarshalStrict(pj, &s.statement); err != nil {
		return nil, fmt.Errorf("payload: %w", err)
	}
	s.input = []byte(parts[0] + "." + parts[1])
	s.sig = sig
	return &s, nil
}

// Statement returns the statement as parsed, before verification. Use it
// only to look things up (e.g. the roster entry of YubiKeySerial); trust
// only what Verify returns.
func (s *Signed) Statement() Statement { return s.statement }

// Verify checks the signature with the key of the signer's certificate, that
// the certificate chains (through intermediates and the x5c certificates
// after it) to roots at time now, is valid for client authentication (or has
// no extended key usage) and, if it has a key usage, allows digital
// signatures; then it validates the statement. roots must not be nil: the
// system roots are never used. The API passes the tenant's intermediate as
// the only root, so that an admin certificate of another tenant under the
// same MSP root never verifies. It returns the statement and the signer's
// certificate; errors wrap ErrSignature, ErrChain or ErrStatement.
func (s *Signed) Verify(roots, intermediates *x509.CertPool, now time.Time) (*Statement, *x509.Certificate, error) {
	if roots == nil {
		return nil, nil, fmt.Errorf("%w: no trusted roots given", ErrChain)
	}
	leaf := s.Chain[0]
	pub := leaf.PublicKey.(*ecdsa.PublicKey) // Parse checked the type
	h := crypto.SHA256
	if s.Header.Alg == AlgES384 {
		h = crypto.SHA384
	}
	hh := h.New()
	hh.Write(s.input)
	if !verifyRaw(pub, hh.Sum(nil), s.sig) {
		return nil, nil, fmt.Errorf("%w: signature does not verify with the key of %q", ErrSignature, leaf.Subject.String())
	}
	var inter *x509.CertPool
	if intermediates != nil {
		inter = intermediates.Clone()
	} else {
		inter = x509.NewCertPool()
	}
	for _, c := range s.Chain[1:] {
		inter.AddCert(c)
	}
	if leaf.KeyUsage != 0 && leaf.KeyUsage&x509.KeyUsageDigitalSignature == 0 {
		return nil, nil, fmt.Errorf("%w: certificate %q does not allow digital signatures", ErrChain, leaf.Subject.String())
	}
	if _, err := leaf.Verify(x509.VerifyOptions{
		Roots:         roots,
		Intermediates: inter,
		CurrentTime:   now,
		KeyUsages:     []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}); err != nil {
		return nil, nil, fmt.Errorf("%w: %w", ErrChain, err)
	}
	st := s.statement
	if err := st.Validate(); err != nil {
		return nil, nil, err
	}
	return &st, leaf, nil
}

// errNoSigner is returned by SignerFrom for a nil crypto.Signer.
var errNoSigner = errors.New("no signer")

// SignerFrom adapts a crypto.Signer (a software key, or the card's key
// through its own wrapper) to Signer, passing the hash that matches the
// digest length.
func SignerFrom(k crypto.Signer) Signer {
	return func(digest []byte) ([]byte, error) {
		if k == nil {
			return nil, errNoSigner
		}
		var h crypto.Hash
		switch len(digest) {
		case 32:
			h = crypto.SHA256
		case 48:
			h = crypto.SHA384
		default:
			return nil, fmt.Errorf("digest of %d bytes: want 32 or 48", len(digest))
		}
		return k.Sign(rand.Reader, digest, h)
	}
}
