package protocol

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"net/url"
	"sort"
	"strings"
	"time"
	"unicode/utf8"
)

// OpEnrollDevice is the operation id of device enrollment, the first
// operation of the one signing mechanism.
const OpEnrollDevice = "enroll_device"

// Parameter names of the enroll_device operation in its canonical form.
const (
	ParamHardwareFingerprint = "hardware_fingerprint"
	ParamDeviceKeySHA256     = "device_key_sha256"
	ParamWireGuardPublicKey  = "wireguard_public_key"
)

// TimestampLayout is the only accepted timestamp format: RFC 3339 in UTC with
// whole seconds, e.g. 2026-11-28T06:07:13Z.
const TimestampLayout = "2006-01-02T15:04:05Z"

// MinNonceBytes is the minimum decoded length of a server nonce (128 bits).
const MinNonceBytes = 16

// Limits on the sizes of identifiers and values in an operation.
const (
	maxIDLen     = 64
	maxValueLen  = 4096
	maxParams    = 64
	maxNonceLen  = 128
	digestB64Len = 43 // base64url, no padding, of 32 bytes
)

// Operation is the general form of a privileged action: an operation id, the
// tenant it applies to, the server's nonce for this instance, and string
// parameters. Its canonical digest is what the challenge carries and every
// signer's statement repeats.
type Operation struct {
	// ID is the operation id, e.g. "enroll_device" or "remote_wipe":
	// 1-64 characters of [a-z0-9_].
	ID string
	// Tenant is the tenant slug: 1-64 characters of [a-z0-9-].
	Tenant string
	// Nonce is the server nonce, base64url without padding, at least 128 bits.
	Nonce string
	// Params are the operation's parameters; names are 1-64 characters of
	// [a-z0-9_], values valid UTF-8 of at most 4096 bytes.
	Params map[string]string
}

// Validate checks the format of every field of o.
func (o Operation) Validate() error {
	if !isIdent(o.ID, false) {
		return fmt.Errorf("%w: operation id %q: want 1-%d of [a-z0-9_]", ErrStatement, o.ID, maxIDLen)
	}
	if !isSlug(o.Tenant) {
		return fmt.Errorf("%w: tenant %q: want 1-%d of [a-z0-9-]", ErrStatement, o.Tenant, maxIDLen)
	}
	if err := checkNonce(o.Nonce); err != nil {
		return err
	}
	if len(o.Params) > maxParams {
		return fmt.Errorf("%w: %d parameters, at most %d", ErrStatement, len(o.Params), maxParams)
	}
	for k, v := range o.Params {
		if !isIdent(k, false) {
			return fmt.Errorf("%w: parameter name %q: want 1-%d of [a-z0-9_]", ErrStatement, k, maxIDLen)
		}
		if len(v) > maxValueLen || !utf8.ValidString(v) {
			return fmt.Errorf("%w: parameter %s: value must be valid UTF-8 of at most %d bytes", ErrStatement, k, maxValueLen)
		}
	}
	return nil
}

// Canonical returns the canonical bytes of o: the JSON object
//
//	{"id":ID,"nonce":NONCE,"params":{NAME:VALUE,...},"tenant":TENANT}
//
// with no whitespace, object members sorted by name (names are ASCII, so
// byte order equals RFC 8785's UTF-16 order), and strings escaped as RFC
// 8785 (JCS) prescribes: '"' and '\' escaped with a backslash, U+0008,
// U+0009, U+000A, U+000C, U+000D as \b \t \n \f \r, other control characters
// as \u00xx with lowercase hex, everything else as literal UTF-8. An empty
// parameter set is {}. It fails when o does not validate.
func (o Operation) Canonical() ([]byte, error) {
	if err := o.Validate(); err != nil {
		return nil, err
	}
	names := make([]string, 0, len(o.Params))
	for k := range o.Params {
		names = append(names, k)
	}
	sort.Strings(names)
	var b strings.Builder
	b.WriteString(`{"id":`)
	writeJCSString(&b, o.ID)
	b.WriteString(`,"nonce":`)
	writeJCSString(&b, o.Nonce)
	b.WriteString(`,"params":{`)
	for i, k := range names {
		if i > 0 {
			b.WriteByte(',')
		}
		writeJCSString(&b, k)
		b.WriteByte(':')
		writeJCSString(&b, o.Params[k])
	}
	b.WriteString(`},"tenant":`)
	writeJCSString(&b, o.Tenant)
	b.WriteByte('}')
	return []byte(b.String()), nil
}

// Digest returns the SHA-256 of Canonical, base64url-encoded without padding:
// the digest the server puts in the challenge and the signer's statement
// repeats.
func (o Operation) Digest() (string, error) {
	c, err := o.Canonical()
	if err != nil {
		return "", err
	}
	sum := sha256.Sum256(c)
	return base64.RawURLEncoding.EncodeToString(sum[:]), nil
}

// writeJCSString writes s as an RFC 8785 JSON string.
func writeJCSString(b *strings.Builder, s string) {
	const hexdigits = "0123456789abcdef"
	b.WriteByte('"')
	for _, r := range s {
		switch r {
		case '"':
			b.WriteString(`\"`)
		case '\\':
			b.WriteString(`\\`)
		case '\b':
			b.WriteString(`\b`)
		case '\t':
			b.WriteString(`\t`)
		case '\n':
			b.WriteString(`\n`)
		case '\f':
			b.WriteString(`\f`)
		case '\r':
			b.WriteString(`\r`)
		default:
			if r < 0x20 {
				b.WriteString(`\u00`)
				b.WriteByte(hexdigits[r>>4])
				b.WriteByte(hexdigits[r&0xf])
			} else {
				b.WriteRune(r)
			}
		}
	}
	b.WriteByte('"')
}

// Statement is the payload of a signed statement: what one signer asserts
// about one operation instance. For enroll_device the device fields are set
// and Params is empty; for any other operation the device fields are empty
// and Params holds the operation's parameters.
type Statement struct {
	// Operation is the operation id, e.g. "enroll_device".
	Operation string `json:"operation"`
	// Tenant is the tenant slug.
	Tenant string `json:"tenant"`
	// Timestamp is the signing time, formatted with TimestampLayout.
	Timestamp string `json:"timestamp"`
	// YubiKeySerial is the serial number of the signer's YubiKey, which the
	// server looks up in the roster.
	YubiKeySerial uint32 `json:"yubikey_serial"`
	// Nonce is the server nonce from the challenge.
	Nonce string `json:"nonce"`
	// Digest is the challenge's digest, CanonicalOperation().Digest().
	Digest string `json:"digest"`
	// HardwareFingerprint identifies the laptop (enroll_device only).
	HardwareFingerprint string `json:"hardware_fingerprint,omitempty"`
	// DeviceKeySHA256 is the SHA-256 of the device public key's DER
	// SubjectPublicKeyInfo as 64 lowercase hex digits (enroll_device only).
	DeviceKeySHA256 string `json:"device_key_sha256,omitempty"`
	// WireGuardPublicKey is the device's WireGuard public key, 32 bytes in
	// standard base64 with padding as wg(8) prints it (enroll_device only).
	WireGuardPublicKey string `json:"wireguard_public_key,omitempty"`
	// Params are the parameters of any operation other than enroll_device.
	Params map[string]string `json:"params,omitempty"`
}

// Time returns the parsed timestamp.
func (s *Statement) Time() (time.Time, error) {
	if len(s.Timestamp) != len(TimestampLayout) {
		return time.Time{}, fmt.Errorf("%w: timestamp %q: want RFC 3339 UTC with seconds, e.g. 2026-01-02T15:04:05Z", ErrStatement, s.Timestamp)
	}
	t, err := time.Parse(TimestampLayout, s.Timestamp)
	if err != nil {
		return time.Time{}, fmt.Errorf("%w: timestamp: %w", ErrStatement, err)
	}
	return t, nil
}

// FormatTimestamp formats t for Statement.Timestamp (UTC, whole seconds).
func FormatTimestamp(t time.Time) string {
	return t.UTC().Truncate(time.Second).Format(TimestampLayout)
}

// CanonicalOperation returns the operation the statement signs: for
// enroll_device its parameters are the hardware fingerprint, the device key
// hash and the WireGuard public key.
func (s *Statement) CanonicalOperation() Operation {
	op := Operation{ID: s.Operation, Tenant: s.Tenant, Nonce: s.Nonce, Params: s.Params}
	if s.Operation == OpEnrollDevice {
		op.Params = map[string]string{
			ParamHardwareFingerprint: s.HardwareFingerprint,
			ParamDeviceKeySHA256:     s.DeviceKeySHA256,
			ParamWireGuardPublicKey:  s.WireGuardPublicKey,
		}
	}
	return op
}

// Validate checks the format of every field, and that Digest is the digest
// of Operation(). Errors wrap ErrStatement.
func (s *Statement) Validate() error {
	if _, err := s.Time(); err != nil {
		return err
	}
	if s.YubiKeySerial == 0 {
		return fmt.Errorf("%w: yubikey_serial missing", ErrStatement)
	}
	if s.Operation == OpEnrollDevice {
		if len(s.Params) != 0 {
			return fmt.Errorf("%w: enroll_device takes no params", ErrStatement)
		}
		if s.HardwareFingerprint == "" || len(s.HardwareFingerprint) > 256 {
			return fmt.Errorf("%w: hardware_fingerprint must be 1-256 bytes", ErrStatement)
		}
		if err := CheckDeviceKeySHA256(s.DeviceKeySHA256); err != nil {
			return err
		}
		if err := CheckWireGuardKey(s.WireGuardPublicKey); err != nil {
			return err
		}
	} else if s.HardwareFingerprint != "" || s.DeviceKeySHA256 != "" || s.WireGuardPublicKey != "" {
		return fmt.Errorf("%w: device fields are only for enroll_device", ErrStatement)
	}
	want, err := s.CanonicalOperation().Digest()
	if err != nil {
		return err
	}
	if s.Digest != want {
		return fmt.Errorf("%w: digest does not match the operation", ErrStatement)
	}
	return nil
}

// DeviceKeyHash returns the device key hash of a DER SubjectPublicKeyInfo,
// in the form Statement.DeviceKeySHA256 uses.
func DeviceKeyHash(spkiDER []byte) string {
	sum := sha256.Sum256(spkiDER)
	return hex.EncodeToString(sum[:])
}

// DeviceID returns the id of the device whose key hash (DeviceKeyHash) is
// deviceKeySHA256: "d-" and its first 32 hex digits. Deriving the id from
// the key lets the laptop know it before the API answers, so that the
// WireGuard key it signs (derived from device key, tenant and device id) is
// the one the device will use; a new device key (a re-enrollment) is a new
// device id. The hash must pass CheckDeviceKeySHA256.
func DeviceID(deviceKeySHA256 string) string {
	if len(deviceKeySHA256) < 32 {
		return ""
	}
	return "d-" + deviceKeySHA256[:32]
}

// CheckDeviceKeySHA256 reports whether h is 64 lowercase hex digits.
func CheckDeviceKeySHA256(h string) error {
	if len(h) != 64 || strings.ToLower(h) != h {
		return fmt.Errorf("%w: device_key_sha256 must be 64 lowercase hex digits", ErrStatement)
	}
	if _, err := hex.DecodeString(h); err != nil {
		return fmt.Errorf("%w: device_key_sha256: %w", ErrStatement, err)
	}
	return nil
}

// DeviceURI returns the URI SAN that names a device in its certificate:
// urn:kiwistack:device:<tenant>:<device id>.
func DeviceURI(tenant, deviceID string) *url.URL {
	return &url.URL{Scheme: "urn", Opaque: "kiwistack:device:" + tenant + ":" + deviceID}
}

// WireGuardURIPrefix starts the URI SAN that binds a WireGuard public key
// into a device certificate: the prefix, then the 32-byte key in unpadded
// base64url (RFC 4648, section 5).
const WireGuardURIPrefix = "urn:kiwistack:wg:"

// WireGuardURI returns the certificate SAN URI of a WireGuard public key
// given in wg(8)'s form (padded standard base64). The device's CSR carries
// it, the API checks it is the key the enrollment names, and step-ca
// copies it into the certificate, so that the hub can tell which peers are
// valid from certificates alone.
func WireGuardURI(publicKey string) (string, error) {
	raw, err := base64.StdEncoding.Strict().DecodeString(publicKey)
	if err != nil || len(raw) != 32 {
		return "", fmt.Errorf("encoding wireguard public key %q: not 32 bytes of base64", publicKey)
	}
	return WireGuardURIPrefix + base64.RawURLEncoding.EncodeToString(raw), nil
}

// CheckWireGuardKey reports whether k is a 32-byte key in padded standard
// base64.
func CheckWireGuardKey(k string) error {
	b, err := base64.StdEncoding.Strict().DecodeString(k)
	if err != nil || len(b) != 32 {
		return fmt.Errorf("%w: wireguard_public_key must be 32 bytes in standard base64", ErrStatement)
	}
	return nil
}

// checkNonce reports whether n is base64url without padding of at least
// MinNonceBytes bytes.
func checkNonce(n string) error {
	if len(n) > maxNonceLen {
		return fmt.Errorf("%w: nonce longer than %d characters", ErrStatement, maxNonceLen)
	}
	b, err := base64.RawURLEncoding.Strict().DecodeString(n)
	if err != nil || len(b) < MinNonceBytes {
		return fmt.Errorf("%w: nonce must be base64url (no padding) of at least %d bytes", ErrStatement, MinNonceBytes)
	}
	return nil
}

// isIdent reports whether s is 1-64 characters of [a-z0-9_] (or [a-z0-9-]
// when dash is set).
func isIdent(s string, dash bool) bool {
	if s == "" || len(s) > maxIDLen {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 'a' && c <= 'z', c >= '0' && c <= '9':
		case c == '_' && !dash, c == '-' && dash:
		default:
			return false
		}
	}
	return true
}

// isSlug reports whether s is a tenant slug.
func isSlug(s string) bool { return isIdent(s, true) }
