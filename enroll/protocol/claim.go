package protocol

import (
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"encoding/pem"
	"fmt"
	"net/url"
	"strings"
)

// BootstrapTokenPrefix starts every bootstrap token, so that secret
// scanners can recognise a leaked one; "1" is the format version.
const BootstrapTokenPrefix = "kst1_"

// bootstrapTokenBytes is the length of a bootstrap token's secret.
const bootstrapTokenBytes = 32

// Bounds of the OEM claim's fields.
const (
	// MaxHardwareSerialLen bounds a hardware serial number.
	MaxHardwareSerialLen = 128
	// MaxBootstrapFileBytes bounds the OEM bootstrap file.
	MaxBootstrapFileBytes = 4 << 10
	// MaxClaimRequestBytes bounds a claim's request body: a CSR and a few
	// short fields.
	MaxClaimRequestBytes = 16 << 10
)

// CheckBootstrapToken reports whether t has the form of a bootstrap token:
// BootstrapTokenPrefix and 32 bytes in base64url without padding. Errors
// wrap ErrMalformed and never contain the token.
func CheckBootstrapToken(t string) error {
	rest, ok := strings.CutPrefix(t, BootstrapTokenPrefix)
	if !ok {
		return fmt.Errorf("%w: a bootstrap token starts with %s", ErrMalformed, BootstrapTokenPrefix)
	}
	b, err := base64.RawURLEncoding.Strict().DecodeString(rest)
	if err != nil || len(b) != bootstrapTokenBytes {
		return fmt.Errorf("%w: a bootstrap token is %s and 32 bytes in base64url", ErrMalformed, BootstrapTokenPrefix)
	}
	return nil
}

// NewBootstrapToken encodes 32 random bytes as a bootstrap token.
func NewBootstrapToken(secret [32]byte) string {
	return BootstrapTokenPrefix + base64.RawURLEncoding.EncodeToString(secret[:])
}

// CheckHardwareSerial reports whether s is a plausible hardware serial
// number: 1 to MaxHardwareSerialLen printable ASCII characters without
// leading or trailing space. Errors wrap ErrMalformed.
func CheckHardwareSerial(s string) error {
	if s == "" || len(s) > MaxHardwareSerialLen || strings.TrimSpace(s) != s {
		return fmt.Errorf("%w: hardware_serial must be 1-%d printable ASCII characters", ErrMalformed, MaxHardwareSerialLen)
	}
	for i := 0; i < len(s); i++ {
		if s[i] < 0x20 || s[i] > 0x7e {
			return fmt.Errorf("%w: hardware_serial must be 1-%d printable ASCII characters", ErrMalformed, MaxHardwareSerialLen)
		}
	}
	return nil
}

// ClaimRequest is an OEM laptop's first-boot claim (POST /v1/claims): the
// bootstrap token from its image, its hardware identity, the CSR of its new
// device key and the WireGuard key derived from that key. The answer is an
// EnrollResponse.
type ClaimRequest struct {
	// Token is the bootstrap token (CheckBootstrapToken).
	Token string `json:"token"`
	// HardwareSerial is the laptop's serial number as the firmware reports
	// it; it must be the one the token was created for.
	HardwareSerial string `json:"hardware_serial"`
	// HardwareFingerprint is the laptop's hardware fingerprint
	// (platform/hwid).
	HardwareFingerprint string `json:"hardware_fingerprint"`
	// CSR is the device key's PKCS #10 request, one PEM block.
	CSR string `json:"csr"`
	// WireGuardPublicKey is the WireGuard public key derived from the
	// device key (agent/wgkey), 32 bytes in standard base64.
	WireGuardPublicKey string `json:"wireguard_public_key"`
}

// Validate checks the format of every field; errors wrap ErrMalformed and
// never contain the token.
func (r *ClaimRequest) Validate() error {
	if err := CheckBootstrapToken(r.Token); err != nil {
		return err
	}
	if err := CheckHardwareSerial(r.HardwareSerial); err != nil {
		return err
	}
	if r.HardwareFingerprint == "" || len(r.HardwareFingerprint) > 256 {
		return fmt.Errorf("%w: hardware_fingerprint must be 1-256 bytes", ErrMalformed)
	}
	if err := CheckWireGuardKey(r.WireGuardPublicKey); err != nil {
		return fmt.Errorf("%w: %w", ErrMalformed, err)
	}
	b, rest := pem.Decode([]byte(r.CSR))
	if b == nil || b.Type != "CERTIFICATE REQUEST" {
		return fmt.Errorf("%w: csr must be a PEM CERTIFICATE REQUEST", ErrMalformed)
	}
	if len(bytes.TrimSpace(rest)) != 0 {
		return fmt.Errorf("%w: data after the CSR's PEM block", ErrMalformed)
	}
	return nil
}

// BootstrapFile is the OEM bootstrap file that an OEM image carries
// (docs/oem-claim.md): where the tenant API is, which root to pin, and the
// bootstrap token. It is YAML restricted to a flat mapping of these four
// keys, one "key: value" per line, values plain or quoted; comments and
// blank lines are allowed, nothing else.
type BootstrapFile struct {
	// API is the tenant API's base URL (https).
	API string
	// Tenant is the tenant slug.
	Tenant string
	// RootFingerprint is the SHA-256 of the tenant root, 64 hex digits.
	RootFingerprint string
	// Token is the bootstrap token.
	Token string
}

// bootstrapKeys are the keys of a BootstrapFile, in the order Marshal
// writes them.
var bootstrapKeys = []string{"api", "tenant", "root_fingerprint", "token"}

// field returns the field of f that key names.
func (f *BootstrapFile) field(key string) *string {
	switch key {
	case "api":
		return &f.API
	case "tenant":
		return &f.Tenant
	case "root_fingerprint":
		return &f.RootFingerprint
	case "token":
		return &f.Token
	}
	return nil
}

// Validate checks every field; errors wrap ErrMalformed and never contain
// the token.
func (f *BootstrapFile) Validate() error {
	u, err := url.Parse(f.API)
	if err != nil || u.Scheme != "https" || u.Host == "" || u.User != nil || u.RawQuery != "" || u.Fragment != "" ||
		len(f.API) > 512 || strings.ContainsFunc(f.API, func(r rune) bool { return r <= ' ' || r > '~' || strings.ContainsRune(`"'\#`, r) }) {
		return fmt.Errorf("%w: api must be an https:// URL", ErrMalformed)
	}
	if !isSlug(f.Tenant) {
		return fmt.Errorf("%w: tenant must be 1-64 of [a-z0-9-]", ErrMalformed)
	}
	if b, err := hex.DecodeString(f.RootFingerprint); err != nil || len(b) != 32 || strings.ToLower(f.RootFingerprint) != f.RootFingerprint {
		return fmt.Errorf("%w: root_fingerprint must be 64 lowercase hex digits", ErrMalformed)
	}
	return CheckBootstrapToken(f.Token)
}

// Marshal validates f and renders it as the bootstrap file.
func (f *BootstrapFile) Marshal() ([]byte, error) {
	if err := f.Validate(); err != nil {
		return nil, err
	}
	var b bytes.Buffer
	b.WriteString("# KiwiStack OEM bootstrap file (docs/oem-claim.md). The token is a secret:\n")
	b.WriteString("# it enrolls one laptop once; the agent deletes this file after the claim.\n")
	for _, k := range bootstrapKeys {
		// Validated values hold no quote, backslash or control character.
		fmt.Fprintf(&b, "%s: %q\n", k, *f.field(k))
	}
	return b.Bytes(), nil
}

// ParseBootstrapFile parses and validates the OEM bootstrap file strictly:
// every key exactly once, no unknown keys, no YAML beyond the documented
// subset. Errors wrap ErrMalformed and never contain the token.
func ParseBootstrapFile(data []byte) (*BootstrapFile, error) {
	if len(data) > MaxBootstrapFileBytes {
		return nil, fmt.Errorf("%w: bootstrap file larger than %d bytes", ErrMalformed, MaxBootstrapFileBytes)
	}
	data = bytes.TrimPrefix(data, []byte("\xef\xbb\xbf"))
	var f BootstrapFile
	seen := map[string]bool{}
	marker := false // a document start marker may come before the first key
	for i, line := range strings.Split(string(data), "\n") {
		n := i + 1
		line = strings.TrimSuffix(line, "\r")
		trimmed := strings.TrimRight(line, " ")
		if trimmed == "" || strings.HasPrefix(trimmed, "#") {
			continue
		}
		if trimmed == "---" && !marker && len(seen) == 0 {
			marker = true
			continue
		}
		key, raw, ok := strings.Cut(trimmed, ":")
		if !ok || key != strings.TrimSpace(key) || f.field(key) == nil {
			return nil, fmt.Errorf("%w: bootstrap file line %d: want one of %s followed by a colon", ErrMalformed, n, strings.Join(bootstrapKeys, ", "))
		}
		if seen[key] {
			return nil, fmt.Errorf("%w: bootstrap file line %d: %s given twice", ErrMalformed, n, key)
		}
		seen[key] = true
		if raw != "" && raw[0] != ' ' {
			return nil, fmt.Errorf("%w: bootstrap file line %d: a space must follow the colon", ErrMalformed, n)
		}
		v, err := yamlScalar(strings.TrimLeft(raw, " "))
		if err != nil {
			return nil, fmt.Errorf("%w: bootstrap file line %d (%s): %w", ErrMalformed, n, key, err)
		}
		*f.field(key) = v
	}
	for _, k := range bootstrapKeys {
		if !seen[k] {
			return nil, fmt.Errorf("%w: bootstrap file: %s missing", ErrMalformed, k)
		}
	}
	if err := f.Validate(); err != nil {
		return nil, fmt.Errorf("bootstrap file: %w", err)
	}
	return &f, nil
}

// yamlScalar decodes the restricted scalars of the bootstrap file: plain
// (a character set that YAML reads as the same string), or double or single
// quoted without escapes; a comment may follow after a space.
func yamlScalar(s string) (string, error) {
	if s == "" {
		return "", fmt.Errorf("empty value")
	}
	if q := s[0]; q == '"' || q == '\'' {
		end := strings.IndexByte(s[1:], q)
		if end < 0 {
			return "", fmt.Errorf("unterminated quote")
		}
		v, rest := s[1:1+end], strings.TrimLeft(s[2+end:], " ")
		if rest != "" && !strings.HasPrefix(rest, "#") {
			return "", fmt.Errorf("text after the quoted value")
		}
		if strings.ContainsAny(v, `\"'`) {
			return "", fmt.Errorf("escapes and quotes inside values are not supported")
		}
		return v, nil
	}
	if v, _, ok := strings.Cut(s, " #"); ok {
		s = strings.TrimRight(v, " ")
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		case strings.IndexByte("-_./:", c) >= 0 && i > 0:
		default:
			return "", fmt.Errorf("unquoted values may hold only letters, digits and - _ . / : (quote it)")
		}
	}
	return s, nil
}
