package protocol

import (
	"bytes"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"regexp"
	"strconv"
	"strings"
)

// Limits of a DirectoryConfig.
const (
	// MaxDirectoryServers bounds each list of servers.
	MaxDirectoryServers = 8
	// MaxDirectoryCABytes bounds the CA bundle.
	MaxDirectoryCABytes = 64 << 10
)

// DirectoryConfig is the tenant's directory (Nubus or any LDAP + MIT- or
// Heimdal-compatible Kerberos service) as the laptop reaches it through the
// tunnel: what SSSD needs for directory login (agent/directory,
// docs/directory.md). Users and groups are read with an anonymous LDAP bind
// over TLS; passwords are checked by the KDC.
type DirectoryConfig struct {
	// LDAPURIs are the directory's LDAP servers in order of preference,
	// all ldaps://HOST[:PORT] or all ldap://HOST[:PORT] (then StartTLS is
	// required), with no DN, filter or other part.
	LDAPURIs []string `json:"ldap_uris"`
	// BaseDN is the search base for users and groups, e.g.
	// dc=acme,dc=kiwistack,dc=io.
	BaseDN string `json:"base_dn"`
	// Realm is the Kerberos realm, upper case, e.g. ACME.KIWISTACK.IO.
	Realm string `json:"realm"`
	// KDCs are the realm's KDCs, HOST[:PORT] (port 88 when absent).
	KDCs []string `json:"kdcs"`
	// KpasswdServers are the realm's password-change servers, HOST[:PORT]
	// (port 464 when absent); the KDCs' hosts on port 464 when empty.
	KpasswdServers []string `json:"kpasswd_servers,omitempty"`
	// CACertificate is the PEM of the CA (one or more certificates) that
	// signs the LDAP servers' TLS certificates.
	CACertificate string `json:"ca_certificate"`
	// LoginGroups, when set, are the directory groups whose members may
	// log in to the laptop (SSSD's simple access provider); every user of
	// the directory may when empty. Optional within version 1.
	LoginGroups []string `json:"login_groups,omitempty"`
}

// MaxLoginGroups bounds DirectoryConfig.LoginGroups.
const MaxLoginGroups = 32

var (
	realmRE    = regexp.MustCompile(`^[A-Z0-9]([A-Z0-9.-]{0,253}[A-Z0-9])?$`)
	hostnameRE = regexp.MustCompile(`^([A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$`)
	rdnRE      = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9-]{0,63}=[A-Za-z0-9._@-]([A-Za-z0-9 ._@-]{0,126}[A-Za-z0-9._@-])?$`)
)

// Validate checks every field; errors wrap ErrMalformed and name the field
// (directory.ldap_uris[0], directory.realm, ...) and what is wanted.
func (d *DirectoryConfig) Validate() error {
	bad := func(field string, err error) error {
		return fmt.Errorf("%w: directory.%s%w", ErrMalformed, field, err)
	}
	if err := ValidateLDAPURIs(d.LDAPURIs); err != nil {
		return bad("ldap_uris", err)
	}
	if err := ValidateBaseDN(d.BaseDN); err != nil {
		return bad("base_dn", err)
	}
	if err := ValidateRealm(d.Realm); err != nil {
		return bad("realm", err)
	}
	if err := ValidateServers(d.KDCs, true); err != nil {
		return bad("kdcs", err)
	}
	if err := ValidateServers(d.KpasswdServers, false); err != nil {
		return bad("kpasswd_servers", err)
	}
	if _, err := d.CACertificates(); err != nil {
		return bad("ca_certificate", fmt.Errorf(": %w", err))
	}
	if err := ValidateLoginGroups(d.LoginGroups); err != nil {
		return bad("login_groups", err)
	}
	return nil
}

// groupRE is a portable group name: what useradd and SSSD accept without
// quoting, and nothing that could end a line or a list in sssd.conf.
var groupRE = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_.-]{0,63}$`)

// ValidateLoginGroups checks DirectoryConfig.LoginGroups: at most
// MaxLoginGroups distinct group names of letters, digits, '_', '.' and '-'
// (not first). The error is a *FieldError.
func ValidateLoginGroups(groups []string) error {
	if len(groups) > MaxLoginGroups {
		return fieldErr(-1, "%d groups, at most %d", len(groups), MaxLoginGroups)
	}
	seen := map[string]bool{}
	for i, g := range groups {
		if !groupRE.MatchString(g) {
			return fieldErr(i, "%q is not a group name: letters, digits, '_', '.' and '-', at most 64, starting with a letter or '_'", g)
		}
		if seen[g] {
			return fieldErr(i, "%q is named twice", g)
		}
		seen[g] = true
	}
	return nil
}

// FieldError is a problem of one field of a DirectoryConfig; its text
// starts with the list index, if any, and ": ", so that callers prefix the
// field's name.
type FieldError struct {
	// Index is the bad element of a list, or -1 for the whole field.
	Index int
	// Msg says what is wrong and what is wanted.
	Msg string
}

func (e *FieldError) Error() string {
	if e.Index < 0 {
		return ": " + e.Msg
	}
	return fmt.Sprintf("[%d]: %s", e.Index, e.Msg)
}

func fieldErr(i int, format string, a ...any) error {
	return &FieldError{Index: i, Msg: fmt.Sprintf(format, a...)}
}

// ValidateLDAPURIs checks DirectoryConfig.LDAPURIs: 1 to
// MaxDirectoryServers URIs, all ldaps://HOST[:PORT] or all
// ldap://HOST[:PORT]. The error is a *FieldError.
func ValidateLDAPURIs(uris []string) error {
	if len(uris) == 0 {
		return fieldErr(-1, "missing: name at least one ldaps:// or ldap:// server")
	}
	if len(uris) > MaxDirectoryServers {
		return fieldErr(-1, "%d servers, at most %d", len(uris), MaxDirectoryServers)
	}
	scheme := ""
	for i, s := range uris {
		sc, err := checkLDAPURI(s)
		if err != nil {
			return fieldErr(i, "%v", err)
		}
		if scheme != "" && sc != scheme {
			return fieldErr(i, "mixes %s:// and %s://: use one scheme for every server", scheme, sc)
		}
		scheme = sc
	}
	return nil
}

// ValidateBaseDN checks DirectoryConfig.BaseDN: simple attribute=value
// parts separated by commas, without escapes, quotes or multi-valued RDNs.
// The error is a *FieldError.
func ValidateBaseDN(dn string) error {
	if err := checkBaseDN(dn); err != nil {
		return fieldErr(-1, "%v", err)
	}
	return nil
}

// ValidateRealm checks DirectoryConfig.Realm: upper-case letters, digits,
// dots and hyphens. The error is a *FieldError.
func ValidateRealm(realm string) error {
	if !realmRE.MatchString(realm) {
		return fieldErr(-1, "%q is not a Kerberos realm: upper-case letters, digits, dots and hyphens (e.g. ACME.EXAMPLE.COM)", realm)
	}
	return nil
}

// ValidateServers checks DirectoryConfig.KDCs (required) or
// KpasswdServers: at most MaxDirectoryServers HOST[:PORT], an IPv6
// address in brackets. The error is a
// *FieldError.
func ValidateServers(addrs []string, required bool) error {
	if required && len(addrs) == 0 {
		return fieldErr(-1, "missing: name at least one server as HOST[:PORT]")
	}
	if len(addrs) > MaxDirectoryServers {
		return fieldErr(-1, "%d servers, at most %d", len(addrs), MaxDirectoryServers)
	}
	for i, a := range addrs {
		if err := checkHostPort(a); err != nil {
			return fieldErr(i, "%v", err)
		}
	}
	return nil
}

// StartTLS says whether the LDAP servers are ldap:// ones that SSSD must
// upgrade with StartTLS (true) or ldaps:// ones (false).
func (d *DirectoryConfig) StartTLS() bool {
	return len(d.LDAPURIs) > 0 && strings.HasPrefix(d.LDAPURIs[0], "ldap://")
}

// CACertificates parses CACertificate: one or more PEM CERTIFICATE blocks
// of CA certificates and nothing else.
func (d *DirectoryConfig) CACertificates() ([]*x509.Certificate, error) {
	if len(d.CACertificate) > MaxDirectoryCABytes {
		return nil, fmt.Errorf("%d bytes, at most %d", len(d.CACertificate), MaxDirectoryCABytes)
	}
	var out []*x509.Certificate
	rest := []byte(d.CACertificate)
	for len(bytes.TrimSpace(rest)) > 0 {
		var b *pem.Block
		b, rest = pem.Decode(rest)
		if b == nil {
			return nil, fmt.Errorf("not PEM after certificate %d: want only PEM CERTIFICATE blocks", len(out))
		}
		if b.Type != "CERTIFICATE" {
			return nil, fmt.Errorf("a PEM %q block: want only CERTIFICATE blocks", b.Type)
		}
		c, err := x509.ParseCertificate(b.Bytes)
		if err != nil {
			return nil, fmt.Errorf("certificate %d: %w", len(out)+1, err)
		}
		if !c.IsCA {
			return nil, fmt.Errorf("certificate %d (%s) is not a CA certificate", len(out)+1, c.Subject)
		}
		out = append(out, c)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("missing: want the PEM of the CA that signs the LDAP servers' certificates")
	}
	return out, nil
}

// checkLDAPURI accepts ldaps://HOST[:PORT] and ldap://HOST[:PORT] and
// returns the scheme.
func checkLDAPURI(s string) (string, error) {
	if strings.ContainsFunc(s, func(r rune) bool { return r <= ' ' || r == 0x7f || r == '\\' || r == '"' }) {
		return "", fmt.Errorf("%q contains a space, control character, quote or backslash", s)
	}
	u, err := url.Parse(s)
	if err != nil {
		return "", fmt.Errorf("%q does not parse: %w", s, err)
	}
	if (u.Scheme != "ldaps" && u.Scheme != "ldap") || u.Opaque != "" || u.User != nil ||
		(u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.Fragment != "" || u.Host == "" {
		return "", fmt.Errorf("%q is not ldaps://HOST[:PORT] or ldap://HOST[:PORT] with nothing after", s)
	}
	if err := checkHost(u.Hostname()); err != nil {
		return "", fmt.Errorf("%q: %w", s, err)
	}
	if p := u.Port(); p != "" {
		if err := checkPort(p); err != nil {
			return "", fmt.Errorf("%q: %w", s, err)
		}
	} else if strings.HasSuffix(u.Host, ":") {
		return "", fmt.Errorf("%q has an empty port", s)
	}
	return u.Scheme, nil
}

// checkHostPort accepts HOST or HOST:PORT, an IPv6 address in brackets.
func checkHostPort(s string) error {
	host := s
	if strings.HasPrefix(s, "[") || strings.Count(s, ":") == 1 {
		h, p, err := net.SplitHostPort(s)
		if err != nil {
			return fmt.Errorf("%q is not HOST[:PORT]: %w", s, err)
		}
		if err := checkPort(p); err != nil {
			return fmt.Errorf("%q: %w", s, err)
		}
		host = h
		if strings.HasPrefix(s, "[") != strings.Contains(h, ":") {
			return fmt.Errorf("%q: only an IPv6 address goes in brackets", s)
		}
	} else if strings.Contains(s, ":") {
		return fmt.Errorf("%q: put an IPv6 address in brackets, [ADDRESS]:PORT", s)
	}
	if err := checkHost(host); err != nil {
		return fmt.Errorf("%q: %w", s, err)
	}
	return nil
}

func checkHost(h string) error {
	if a, err := netip.ParseAddr(h); err == nil {
		if a.Zone() != "" {
			return fmt.Errorf("an address with a zone is not allowed")
		}
		return nil
	}
	if len(h) > 253 || !hostnameRE.MatchString(h) {
		return fmt.Errorf("%q is not a host name or IP address", h)
	}
	return nil
}

func checkPort(p string) error {
	n, err := strconv.Atoi(p)
	if err != nil || n < 1 || n > 65535 || p[0] == '0' {
		return fmt.Errorf("port %q is not between 1 and 65535", p)
	}
	return nil
}

// checkBaseDN accepts a DN of simple attribute=value RDNs separated by
// commas, without escapes, quotes or multi-valued RDNs.
func checkBaseDN(dn string) error {
	if dn == "" {
		return fmt.Errorf("missing: want the search base, e.g. dc=acme,dc=example,dc=com")
	}
	if len(dn) > 512 {
		return fmt.Errorf("%d characters, at most 512", len(dn))
	}
	for _, rdn := range strings.Split(dn, ",") {
		if !rdnRE.MatchString(rdn) {
			return fmt.Errorf("%q is not a DN of attribute=value parts separated by commas (e.g. dc=acme,dc=example,dc=com); part %q", dn, rdn)
		}
	}
	return nil
}
