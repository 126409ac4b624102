package protocol

import (
	"crypto/ed25519"
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Reads of the tenant's audit log and status are signed operations (seed
// Z1, low tier): the reader makes a one-time Ed25519 key, requests
// read_audit or read_status with its public key as ParamReaderKey, has one
// administrator sign, and then proves the key on every read with an
// Authorization header (ReadAuthorization): the operation id, a timestamp
// and the key's signature over ReadGrantMessage. Nobody else can use the
// grant, even knowing the operation id, and the grant ends
// ReadGrantLifetime after the operation applied (docs/authorization.md).

// ParamReaderKey is read_audit's and read_status's one-time Ed25519 public
// key, base64url without padding.
const ParamReaderKey = "reader_key"

// ReadGrantLifetime is how long after it applied a read grant is good.
const ReadGrantLifetime = 15 * time.Minute

// ReadClockSkew bounds the difference between a read's timestamp and the
// server's clock.
const ReadClockSkew = time.Minute

// ReadScheme is the Authorization scheme of a granted read.
const ReadScheme = "KiwiStack-Read"

// EncodeReaderKey is the ParamReaderKey form of pub.
func EncodeReaderKey(pub ed25519.PublicKey) string {
	return base64.RawURLEncoding.EncodeToString(pub)
}

// ParseReaderKey parses a ParamReaderKey value.
func ParseReaderKey(s string) (ed25519.PublicKey, error) {
	b, err := base64.RawURLEncoding.Strict().DecodeString(s)
	if err != nil || len(b) != ed25519.PublicKeySize {
		return nil, fmt.Errorf("%s must be an Ed25519 public key, 32 bytes in base64url without padding", ParamReaderKey)
	}
	return ed25519.PublicKey(b), nil
}

// ReadGrantMessage is what the reader's key signs for one request: the
// tenant, method, request URI (path and query, as sent) and timestamp
// (Unix seconds), each on its own line after a versioned label.
func ReadGrantMessage(tenant, method, requestURI string, ts int64) []byte {
	return []byte("kiwistack-read-v1\n" + tenant + "\n" + method + "\n" + requestURI + "\n" + strconv.FormatInt(ts, 10))
}

// ReadAuthorization is the Authorization header value of a granted read.
func ReadAuthorization(operationID string, ts int64, sig []byte) string {
	return ReadScheme + " " + operationID + "." + strconv.FormatInt(ts, 10) + "." + base64.RawURLEncoding.EncodeToString(sig)
}

// ParseReadAuthorization parses a ReadAuthorization header value; errors
// wrap ErrMalformed.
func ParseReadAuthorization(h string) (operationID string, ts int64, sig []byte, err error) {
	rest, ok := strings.CutPrefix(h, ReadScheme+" ")
	if !ok {
		return "", 0, nil, fmt.Errorf("%w: want Authorization: %s OPERATION.TIMESTAMP.SIGNATURE", ErrMalformed, ReadScheme)
	}
	parts := strings.Split(rest, ".")
	if len(parts) != 3 || parts[0] == "" || len(parts[0]) > 64 || strings.ContainsAny(parts[0], " \t/") {
		return "", 0, nil, fmt.Errorf("%w: want OPERATION.TIMESTAMP.SIGNATURE after %s", ErrMalformed, ReadScheme)
	}
	ts, err = strconv.ParseInt(parts[1], 10, 64)
	if err != nil || ts <= 0 || strconv.FormatInt(ts, 10) != parts[1] {
		return "", 0, nil, fmt.Errorf("%w: the timestamp must be Unix seconds", ErrMalformed)
	}
	sig, err = base64.RawURLEncoding.Strict().DecodeString(parts[2])
	if err != nil || len(sig) != ed25519.SignatureSize {
		return "", 0, nil, fmt.Errorf("%w: the signature must be 64 bytes of Ed25519 in base64url", ErrMalformed)
	}
	return parts[0], ts, sig, nil
}

// ErrReadGrant is wrapped by VerifyRead's refusals.
var ErrReadGrant = errors.New("read grant refused")

// VerifyRead checks a read's signature by the grant's reader key and its
// timestamp against now.
func VerifyRead(readerKey string, tenant, method, requestURI string, ts int64, sig []byte, now time.Time) error {
	pub, err := ParseReaderKey(readerKey)
	if err != nil {
		return fmt.Errorf("%w: %w", ErrReadGrant, err)
	}
	if d := now.Sub(time.Unix(ts, 0)); d > ReadClockSkew || d < -ReadClockSkew {
		return fmt.Errorf("%w: the read's timestamp is %s off the server's clock (at most %s)", ErrReadGrant, d.Round(time.Second), ReadClockSkew)
	}
	if !ed25519.Verify(pub, ReadGrantMessage(tenant, method, requestURI, ts), sig) {
		return fmt.Errorf("%w: the signature is not the reader key's over this request", ErrReadGrant)
	}
	return nil
}
