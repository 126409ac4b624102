package serve

import (
	"errors"
	"fmt"
	"os"

	"go.yaml.in/yaml/v3"

	"github.com/kiwistack/endpoint/enroll/protocol"
	"github.com/kiwistack/endpoint/internal/yamlnode"
)

// DirectoryConfig is the tenant's directory (LDAP and Kerberos, e.g.
// Nubus) as devices reach it through the tunnel, for directory login
// (agent/directory, docs/directory.md).
type DirectoryConfig struct {
	// LDAPURIs, BaseDN, Realm, KDCs and KpasswdServers are as in
	// protocol.DirectoryConfig.
	LDAPURIs       []string
	BaseDN         string
	Realm          string
	KDCs           []string
	KpasswdServers []string
	// CAFile is the PEM of the CA that signs the LDAP servers'
	// certificates.
	CAFile string
	// LoginGroups are the groups whose members may log in to laptops
	// (protocol.DirectoryConfig.LoginGroups); everyone when empty.
	LoginGroups []string
}

// Load reads the CA file and returns the section as agents receive it,
// validated.
func (d *DirectoryConfig) Load() (*protocol.DirectoryConfig, error) {
	ca, err := os.ReadFile(d.CAFile)
	if err != nil {
		return nil, fmt.Errorf("reading directory.ca_file: %w", err)
	}
	pd := &protocol.DirectoryConfig{LDAPURIs: d.LDAPURIs, BaseDN: d.BaseDN, Realm: d.Realm,
		KDCs: d.KDCs, KpasswdServers: d.KpasswdServers, CACertificate: string(ca), LoginGroups: d.LoginGroups}
	if err := pd.Validate(); err != nil {
		return nil, fmt.Errorf("checking the directory section (CA from %s): %w", d.CAFile, err)
	}
	return pd, nil
}

func (p *parser) directory(n *yaml.Node, path string) {
	d := &DirectoryConfig{}
	known := []string{"ldap_uris", "base_dn", "realm", "kdcs", "kpasswd_servers", "ca_file", "login_groups"}
	p.mapping(n, path, known, []string{"ldap_uris", "base_dn", "realm", "kdcs", "ca_file"}, func(key string, v *yaml.Node, path string) {
		switch key {
		case "ldap_uris":
			d.LDAPURIs = p.strList(v, path, protocol.ValidateLDAPURIs)
		case "kdcs":
			d.KDCs = p.strList(v, path, func(s []string) error { return protocol.ValidateServers(s, true) })
		case "kpasswd_servers":
			d.KpasswdServers = p.strList(v, path, func(s []string) error { return protocol.ValidateServers(s, false) })
		case "base_dn":
			if s, ok := p.str(v, path); ok {
				p.fieldErr(v, nil, path, protocol.ValidateBaseDN(s))
				d.BaseDN = s
			}
		case "realm":
			if s, ok := p.str(v, path); ok {
				p.fieldErr(v, nil, path, protocol.ValidateRealm(s))
				d.Realm = s
			}
		case "ca_file":
			d.CAFile = p.file(v, path)
		case "login_groups":
			d.LoginGroups = p.strList(v, path, protocol.ValidateLoginGroups)
		}
	})
	p.c.Directory = d
}

// strList reads a sequence of non-empty strings and checks it with check,
// reporting a bad element at its own line.
func (p *parser) strList(n *yaml.Node, path string, check func([]string) error) []string {
	if n.Kind != yaml.SequenceNode {
		p.Errorf(n, path, "want a list of strings such as [ldaps://ldap.example:636], got %s", yamlnode.Describe(n))
		return nil
	}
	var out []string
	for i, e := range n.Content {
		s, ok := p.str(e, fmt.Sprintf("%s[%d]", path, i))
		if !ok {
			return nil
		}
		out = append(out, s)
	}
	p.fieldErr(n, n.Content, path, check(out))
	return out
}

// fieldErr reports err, a *protocol.FieldError, at the bad element of
// elems or at n.
func (p *parser) fieldErr(n *yaml.Node, elems []*yaml.Node, path string, err error) {
	if err == nil {
		return
	}
	var fe *protocol.FieldError
	if !errors.As(err, &fe) {
		p.Errorf(n, path, "%v", err)
		return
	}
	if fe.Index >= 0 && fe.Index < len(elems) {
		p.Errorf(elems[fe.Index], fmt.Sprintf("%s[%d]", path, fe.Index), "%s", fe.Msg)
		return
	}
	p.Errorf(n, path, "%s", fe.Msg)
}
