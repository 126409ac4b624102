// Package protocol holds the wire types shared by the laptop (kiwistack-enroll)
// and the tenant API (kiwistack-api), and the signed statement of the one
// signing mechanism: a JWS compact serialization with an x5c header, signed by
// slot 9a of an administrator's YubiKey.
//
// It is the only package both sides import, so it must stay a small leaf: the
// standard library only, no cgo, no piv-go, no HTTP handlers and no storage.
// It parses untrusted bytes strictly and returns typed errors (ErrMalformed,
// ErrAlgorithm, ErrSignature, ErrChain, ErrStatement) that the API maps to
// reason codes and HTTP statuses; it does not decide policy (roster, roles,
// nonces, time windows beyond certificate validity): the server does.
package protocol

import (
	"errors"
)

// Sentinel errors returned (wrapped) by Parse, Verify, Validate and
// DecodeJSON. Test with errors.Is; Reason maps them to reason codes.
var (
	// ErrMalformed reports input that is not a well-formed statement or
	// message: bad encoding, bad JSON, unknown or duplicate fields,
	// forbidden headers, oversize input.
	ErrMalformed = errors.New("malformed")
	// ErrAlgorithm reports an algorithm outside the whitelist or one that
	// does not match the signer's key.
	ErrAlgorithm = errors.New("unsupported or mismatched algorithm")
	// ErrSignature reports a signature that does not verify with the key of
	// the signer's certificate.
	ErrSignature = errors.New("invalid signature")
	// ErrChain reports a signer certificate that does not chain to the
	// trusted roots, is expired or not yet valid, or is unfit for signing.
	ErrChain = errors.New("untrusted certificate chain")
	// ErrStatement reports a well-formed, correctly signed statement whose
	// content is invalid (missing field, bad format, wrong digest).
	ErrStatement = errors.New("invalid statement")
)

// Reason codes, stable strings for API responses, metrics and audit entries.
const (
	ReasonMalformed = "malformed"
	ReasonAlgorithm = "bad_algorithm"
	ReasonSignature = "bad_signature"
	ReasonChain     = "untrusted_chain"
	ReasonStatement = "bad_statement"
	ReasonUnknown   = "internal"
)

// Reason returns the reason code of an error returned by this package, or
// ReasonUnknown for any other error.
func Reason(err error) string {
	switch {
	case errors.Is(err, ErrMalformed):
		return ReasonMalformed
	case errors.Is(err, ErrAlgorithm):
		return ReasonAlgorithm
	case errors.Is(err, ErrSignature):
		return ReasonSignature
	case errors.Is(err, ErrChain):
		return ReasonChain
	case errors.Is(err, ErrStatement):
		return ReasonStatement
	}
	return ReasonUnknown
}
