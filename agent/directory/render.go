package directory

import (
	"bytes"
	"encoding/pem"
	"errors"
	"fmt"
	"strings"

	"github.com/kiwistack/endpoint/enroll/protocol"
)

// Paths of the files the controller writes, OS-absolute, joined under the
// agent's root.
const (
	SSSDConf     = "/etc/sssd/sssd.conf"
	CAFile       = "/etc/sssd/kiwistack-directory-ca.pem"
	Krb5Snippet  = "/etc/krb5.conf.d/kiwistack.conf"
	Krb5Conf     = "/etc/krb5.conf"
	Krb5Include  = "includedir /etc/krb5.conf.d/"
	NSSwitchConf = "/etc/nsswitch.conf"
	// CCacheTemplate is the credential cache SSSD stores a user's ticket
	// in: MIT Kerberos's default ccache name on Debian, so that every
	// program (klist, the browser) finds it without KRB5CCNAME.
	CCacheTemplate = "FILE:/tmp/krb5cc_%U"
)

// NSSDatabases are the databases of nsswitch.conf that get sss.
var NSSDatabases = []string{"passwd", "group", "shadow"}

// PAMProfiles are the pam-auth-update profiles (/usr/share/pam-configs)
// the controller enables: pam_sss (libpam-sss) and pam_mkhomedir
// (libpam-runtime).
var PAMProfiles = []string{"sss", "mkhomedir"}

// File is one file the controller writes.
type File struct {
	// Path is OS-absolute, joined under the agent's root.
	Path    string
	Content []byte
	Mode    uint32
}

// ErrInvalid wraps every refusal of a directory configuration.
var ErrInvalid = errors.New("invalid directory configuration")

// Validate checks cfg (protocol.DirectoryConfig.Validate); errors wrap
// ErrInvalid and protocol.ErrMalformed.
func Validate(cfg *protocol.DirectoryConfig) error {
	if cfg == nil {
		return fmt.Errorf("%w: no directory section", ErrInvalid)
	}
	if err := cfg.Validate(); err != nil {
		return fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	return nil
}

// DomainName is the SSSD domain of cfg: the realm in lower case.
func DomainName(cfg *protocol.DirectoryConfig) string { return strings.ToLower(cfg.Realm) }

// Render returns the files that configure SSSD and Kerberos for cfg, in
// the order they are written, after validating it. It does not include
// the edits of files the machine already has (EnableNSS, IncludeKrb5Dir).
func Render(cfg *protocol.DirectoryConfig) ([]File, error) {
	if err := Validate(cfg); err != nil {
		return nil, err
	}
	cas, _ := cfg.CACertificates()
	var ca bytes.Buffer
	for _, c := range cas {
		fmt.Fprintf(&ca, "# %s\n", c.Subject)
		ca.WriteString(pemCert(c.Raw))
	}
	return []File{
		{Path: CAFile, Content: ca.Bytes(), Mode: 0o644},
		{Path: Krb5Snippet, Content: RenderKrb5(cfg), Mode: 0o644},
		{Path: SSSDConf, Content: RenderSSSD(cfg), Mode: 0o600},
	}, nil
}

const header = "# Written by kiwistack-agent from the tenant configuration (docs/directory.md).\n" +
	"# Changes here are overwritten at the next reconcile.\n"

// RenderSSSD renders sssd.conf for a valid cfg: one LDAP identity domain
// with Kerberos authentication, TLS checked against CAFile, credentials
// cached for offline login.
func RenderSSSD(cfg *protocol.DirectoryConfig) []byte {
	var b bytes.Buffer
	dom := DomainName(cfg)
	b.WriteString(header)
	b.WriteString("# Local additions belong in /etc/sssd/conf.d/.\n\n")
	fmt.Fprintf(&b, "[sssd]\nconfig_file_version = 2\nservices = nss, pam\ndomains = %s\n\n", dom)
	b.WriteString("[nss]\n\n")
	b.WriteString("[pam]\n# Cached logins never expire: offline after one online login.\noffline_credentials_expiration = 0\n\n")
	fmt.Fprintf(&b, "[domain/%s]\n", dom)
	b.WriteString("id_provider = ldap\nauth_provider = krb5\nchpass_provider = krb5\n")
	if len(cfg.LoginGroups) == 0 {
		b.WriteString("# Every user of the tenant's directory may log in to this laptop.\naccess_provider = permit\n")
	} else {
		b.WriteString("# Only members of the tenant's login groups may log in to this laptop.\naccess_provider = simple\n")
		fmt.Fprintf(&b, "simple_allow_groups = %s\n", strings.Join(cfg.LoginGroups, ", "))
	}
	b.WriteString("cache_credentials = true\nkrb5_store_password_if_offline = true\nenumerate = false\n\n")
	fmt.Fprintf(&b, "ldap_uri = %s\n", strings.Join(cfg.LDAPURIs, ", "))
	fmt.Fprintf(&b, "ldap_search_base = %s\n", cfg.BaseDN)
	b.WriteString("ldap_schema = rfc2307\n")
	fmt.Fprintf(&b, "ldap_id_use_start_tls = %t\n", cfg.StartTLS())
	fmt.Fprintf(&b, "ldap_tls_reqcert = demand\nldap_tls_cacert = %s\n\n", CAFile)
	fmt.Fprintf(&b, "krb5_realm = %s\n", cfg.Realm)
	fmt.Fprintf(&b, "krb5_server = %s\n", strings.Join(cfg.KDCs, ", "))
	if len(cfg.KpasswdServers) > 0 {
		fmt.Fprintf(&b, "krb5_kpasswd = %s\n", strings.Join(cfg.KpasswdServers, ", "))
	}
	fmt.Fprintf(&b, "krb5_ccname_template = %s\n", CCacheTemplate)
	b.WriteString("# No host keytab: the KDC's answer is not validated against one.\nkrb5_validate = false\n")
	return b.Bytes()
}

// RenderKrb5 renders the krb5 snippet: the tenant's realm as the default
// realm, with its KDCs and password-change servers.
func RenderKrb5(cfg *protocol.DirectoryConfig) []byte {
	var b bytes.Buffer
	b.WriteString(header)
	fmt.Fprintf(&b, "\n[libdefaults]\n\tdefault_realm = %s\n\n[realms]\n\t%s = {\n", cfg.Realm, cfg.Realm)
	for _, k := range cfg.KDCs {
		fmt.Fprintf(&b, "\t\tkdc = %s\n", k)
	}
	for _, k := range cfg.KpasswdServers {
		fmt.Fprintf(&b, "\t\tkpasswd_server = %s\n", k)
	}
	b.WriteString("\t}\n")
	return b.Bytes()
}

// EnableNSS returns nsswitch.conf with sss added at the end of the
// sources of each of NSSDatabases that lacks it (a missing database gets
// "files sss"); everything else is kept byte for byte. changed is false
// when nothing was missing.
func EnableNSS(old []byte) (out []byte, changed bool) {
	lines := strings.SplitAfter(string(old), "\n")
	if len(lines) > 0 && lines[len(lines)-1] == "" {
		lines = lines[:len(lines)-1]
	}
	seen := map[string]bool{}
	for i, line := range lines {
		body, nl := strings.CutSuffix(line, "\n")
		code, comment, hasComment := strings.Cut(body, "#")
		db, sources, ok := strings.Cut(code, ":")
		db = strings.TrimSpace(db)
		if !ok || !isNSSDatabase(db) || seen[db] {
			continue
		}
		seen[db] = true
		if hasSSS(sources) {
			continue
		}
		code = strings.TrimRight(code, " \t") + " sss"
		if hasComment {
			code += " #" + comment
		}
		if nl {
			code += "\n"
		}
		lines[i] = code
		changed = true
	}
	var b strings.Builder
	for _, l := range lines {
		b.WriteString(l)
	}
	if b.Len() > 0 && !strings.HasSuffix(b.String(), "\n") {
		b.WriteString("\n")
	}
	for _, db := range NSSDatabases {
		if !seen[db] {
			fmt.Fprintf(&b, "%s:%sfiles sss\n", db, strings.Repeat(" ", max(1, 16-len(db)-1)))
			changed = true
		}
	}
	return []byte(b.String()), changed
}

func isNSSDatabase(db string) bool {
	for _, d := range NSSDatabases {
		if d == db {
			return true
		}
	}
	return false
}

// hasSSS says whether an nsswitch source list names sss (outside the
// [STATUS=action] items).
func hasSSS(sources string) bool {
	for _, f := range strings.Fields(sources) {
		if f == "sss" {
			return true
		}
	}
	return false
}

// IncludeKrb5Dir returns krb5.conf with Krb5Include as its first line when
// no line includes /etc/krb5.conf.d/ yet (Debian's krb5.conf does not), so
// that the snippet's default realm comes first; changed is false when the
// include is there.
func IncludeKrb5Dir(old []byte) (out []byte, changed bool) {
	for _, l := range strings.Split(string(old), "\n") {
		f := strings.Fields(l)
		if len(f) == 2 && f[0] == "includedir" && strings.TrimSuffix(f[1], "/") == "/etc/krb5.conf.d" {
			return old, false
		}
	}
	return append([]byte("# Added by kiwistack-agent (docs/directory.md).\n"+Krb5Include+"\n\n"), old...), true
}

func pemCert(der []byte) string {
	return string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}))
}
