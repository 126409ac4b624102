package protocol

import (
	"bytes"
	"encoding/pem"
	"fmt"
	"regexp"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// OpIssueAdminCertificate is the audit operation of POST /v1/admin-certificates.
const OpIssueAdminCertificate = "issue_admin_certificate"

// MaxAdminLifetime bounds AdminCertificateRequest.Lifetime (one year, the
// CA's limit for admin certificates).
const MaxAdminLifetime = 365 * 24 * time.Hour

var (
	subjectSlugRE = regexp.MustCompile(`^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$`)
	subjectRoleRE = regexp.MustCompile(`^[a-z](?:[a-z0-9-]{0,30}[a-z0-9])?$`)
)

// ValidateAdminSubject checks the admin name, role and tenant slug that go
// into a slot 9a certificate (CN, OU, O): the tenant is 1-63 lowercase
// letters, digits and inner hyphens; the role 1-32 of them, starting with a
// letter; the name 1-64 characters of UTF-8 without control characters or
// surrounding spaces.
func ValidateAdminSubject(admin, role, tenant string) error {
	if !subjectSlugRE.MatchString(tenant) {
		return fmt.Errorf("tenant %q: a tenant slug is 1-63 lowercase letters, digits and inner hyphens (e.g. acme-corp)", tenant)
	}
	if err := ValidateRole(role); err != nil {
		return err
	}
	return ValidateAdminName(admin)
}

// ValidateRole checks a role's format (not whether the tenant knows it).
func ValidateRole(role string) error {
	if !subjectRoleRE.MatchString(role) {
		return fmt.Errorf("role %q: a role is 1-32 lowercase letters, digits and inner hyphens, starting with a letter (e.g. sysadmin)", role)
	}
	return nil
}

// ValidateAdminName checks an administrator's name (a certificate's CN).
func ValidateAdminName(admin string) error {
	if admin == "" || len(admin) > 64 || !utf8.ValidString(admin) {
		return fmt.Errorf("admin name: 1-64 characters of valid UTF-8 needed")
	}
	for _, r := range admin {
		if unicode.IsControl(r) || r == unicode.ReplacementChar {
			return fmt.Errorf("admin name %q holds a control character", admin)
		}
	}
	if admin != strings.TrimSpace(admin) {
		return fmt.Errorf("admin name %q starts or ends with a space", admin)
	}
	return nil
}

// AdminCertificateRequest asks the API for an administrator's slot 9a
// certificate (POST /v1/admin-certificates, authenticated by the MSP's
// provisioning token). The server checks the attestation, that it attests
// the CSR's key in slot 9a of YubiKey Serial with the house policies, and
// the subject; Validate checks only the format.
type AdminCertificateRequest struct {
	// Serial is the YubiKey's serial number.
	Serial uint32 `json:"serial"`
	// Admin is the holder's name (CN).
	Admin string `json:"admin"`
	// Role is the holder's role (OU).
	Role string `json:"role"`
	// CSR is a PKCS #10 request signed by the slot 9a key, one PEM block.
	CSR string `json:"csr"`
	// Attestation is slot 9a's attestation certificate, one PEM block.
	Attestation string `json:"attestation"`
	// AttestationIntermediate is the YubiKey's f9 certificate, one PEM block.
	AttestationIntermediate string `json:"attestation_intermediate"`
	// Lifetime is the certificate's lifetime as a Go duration ("8760h");
	// empty: the CA's default (one year).
	Lifetime string `json:"lifetime,omitempty"`
}

// Validate checks the request's format; errors wrap ErrMalformed.
func (r *AdminCertificateRequest) Validate() error {
	if r.Serial == 0 {
		return fmt.Errorf("%w: serial missing", ErrMalformed)
	}
	if r.Admin == "" || r.Role == "" {
		return fmt.Errorf("%w: admin and role are required", ErrMalformed)
	}
	for _, f := range []struct{ name, text, typ string }{
		{"csr", r.CSR, "CERTIFICATE REQUEST"},
		{"attestation", r.Attestation, "CERTIFICATE"},
		{"attestation_intermediate", r.AttestationIntermediate, "CERTIFICATE"},
	} {
		if err := onePEM(f.text, f.typ); err != nil {
			return fmt.Errorf("%w: %s: %w", ErrMalformed, f.name, err)
		}
	}
	if _, err := r.ParseLifetime(); err != nil {
		return fmt.Errorf("%w: %w", ErrMalformed, err)
	}
	return nil
}

// ParseLifetime returns the requested lifetime, 0 when none is given.
func (r *AdminCertificateRequest) ParseLifetime() (time.Duration, error) {
	if r.Lifetime == "" {
		return 0, nil
	}
	d, err := time.ParseDuration(r.Lifetime)
	if err != nil || d <= 0 {
		return 0, fmt.Errorf("lifetime %q: a positive Go duration is needed, e.g. 8760h", r.Lifetime)
	}
	return d, nil
}

// onePEM checks that text is exactly one PEM block of type typ.
func onePEM(text, typ string) error {
	b, rest := pem.Decode([]byte(text))
	if b == nil || b.Type != typ {
		return fmt.Errorf("must be a PEM %s", typ)
	}
	if len(bytes.TrimSpace(rest)) != 0 {
		return fmt.Errorf("data after the PEM block")
	}
	return nil
}

// AdminCertificateResponse is the API's answer to a successful
// AdminCertificateRequest.
type AdminCertificateResponse struct {
	// Certificate is the administrator's slot 9a certificate, PEM.
	Certificate string `json:"certificate"`
	// Chain is the intermediates up to (not including) the root, PEM.
	Chain []string `json:"chain"`
	// Root is the tenant root certificate, PEM.
	Root string `json:"root"`
	// RosterEntry is what the tenant's roster records for the key.
	RosterEntry AdminRosterEntry `json:"roster_entry"`
}

// Validate checks that the response carries one PEM certificate, its chain
// and root; errors wrap ErrMalformed.
func (r *AdminCertificateResponse) Validate() error {
	if err := onePEM(r.Certificate, "CERTIFICATE"); err != nil {
		return fmt.Errorf("%w: certificate: %w", ErrMalformed, err)
	}
	if err := onePEM(r.Root, "CERTIFICATE"); err != nil {
		return fmt.Errorf("%w: root: %w", ErrMalformed, err)
	}
	for i, c := range r.Chain {
		if err := onePEM(c, "CERTIFICATE"); err != nil {
			return fmt.Errorf("%w: chain[%d]: %w", ErrMalformed, i, err)
		}
	}
	return nil
}

// AdminRosterEntry is the roster's view of an administrator's key.
type AdminRosterEntry struct {
	// Serial is the YubiKey's serial number.
	Serial uint32 `json:"serial"`
	// Admin and Role are the certificate's CN and OU.
	Admin string `json:"admin"`
	Role  string `json:"role"`
	// PublicKeySHA256 is the hex SHA-256 of the slot 9a key's
	// SubjectPublicKeyInfo.
	PublicKeySHA256 string `json:"public_key_sha256"`
	// NotAfter is the certificate's expiry (TimestampLayout).
	NotAfter string `json:"not_after"`
}
