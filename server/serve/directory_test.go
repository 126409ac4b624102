package serve

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

const directoryYAML = `directory:
  ldap_uris: [ldaps://100.96.0.1:636, ldaps://ldap.acme.example]
  base_dn: dc=acme,dc=example
  realm: ACME.EXAMPLE
  kdcs: [100.96.0.1]
  kpasswd_servers: ["100.96.0.1:464"]
  ca_file: directory-ca.pem
  login_groups: [laptop-users, it_admins]
`

func TestParseConfigDirectory(t *testing.T) {
	c, err := ParseConfig([]byte(minimal + directoryYAML))
	if err != nil {
		t.Fatal(err)
	}
	d := c.Directory
	if d == nil || !slices.Equal(d.LDAPURIs, []string{"ldaps://100.96.0.1:636", "ldaps://ldap.acme.example"}) ||
		d.BaseDN != "dc=acme,dc=example" || d.Realm != "ACME.EXAMPLE" || !slices.Equal(d.KDCs, []string{"100.96.0.1"}) ||
		!slices.Equal(d.KpasswdServers, []string{"100.96.0.1:464"}) || d.CAFile != "directory-ca.pem" ||
		!slices.Equal(d.LoginGroups, []string{"laptop-users", "it_admins"}) {
		t.Fatalf("directory = %+v", d)
	}
	for name, tc := range map[string]struct{ yaml, want string }{
		"unknown key":   {"directory:\n  ldap_uris: [ldaps://a]\n  base_dn: dc=a\n  realm: A\n  kdcs: [a]\n  ca_file: c\n  bind_dn: x\n", "18:3: directory.bind_dn: unknown key"},
		"missing realm": {"directory:\n  ldap_uris: [ldaps://a]\n  base_dn: dc=a\n  kdcs: [a]\n  ca_file: c\n", "directory.realm: missing"},
		"uri scheme":    {"directory:\n  ldap_uris:\n    - ldaps://a\n    - https://b\n  base_dn: dc=a\n  realm: A\n  kdcs: [a]\n  ca_file: c\n", "15:7: directory.ldap_uris[1]"},
		"mixed":         {"directory:\n  ldap_uris: [ldaps://a, ldap://b]\n  base_dn: dc=a\n  realm: A\n  kdcs: [a]\n  ca_file: c\n", "directory.ldap_uris[1]: mixes"},
		"not a list":    {"directory:\n  ldap_uris: ldaps://a\n  base_dn: dc=a\n  realm: A\n  kdcs: [a]\n  ca_file: c\n", "directory.ldap_uris: want a list"},
		"empty list":    {"directory:\n  ldap_uris: []\n  base_dn: dc=a\n  realm: A\n  kdcs: [a]\n  ca_file: c\n", "directory.ldap_uris: missing"},
		"base dn":       {"directory:\n  ldap_uris: [ldaps://a]\n  base_dn: dc=a,,x\n  realm: A\n  kdcs: [a]\n  ca_file: c\n", "14:12: directory.base_dn"},
		"realm":         {"directory:\n  ldap_uris: [ldaps://a]\n  base_dn: dc=a\n  realm: acme\n  kdcs: [a]\n  ca_file: c\n", "directory.realm"},
		"kdc":           {"directory:\n  ldap_uris: [ldaps://a]\n  base_dn: dc=a\n  realm: A\n  kdcs: [\"a:0\"]\n  ca_file: c\n", "directory.kdcs[0]"},
		"login group":   {"directory:\n  ldap_uris: [ldaps://a]\n  base_dn: dc=a\n  realm: A\n  kdcs: [a]\n  ca_file: c\n  login_groups: [ok, \"bad, group\"]\n", "directory.login_groups[1]"},
		"group twice":   {"directory:\n  ldap_uris: [ldaps://a]\n  base_dn: dc=a\n  realm: A\n  kdcs: [a]\n  ca_file: c\n  login_groups: [g, g]\n", "directory.login_groups[1]: \"g\" is named twice"},
		"kdc number":    {"directory:\n  ldap_uris: [ldaps://a]\n  base_dn: dc=a\n  realm: A\n  kdcs: [88]\n  ca_file: c\n", "directory.kdcs[0]: want a non-empty string"},
	} {
		_, err := ParseConfig([]byte(minimal + tc.yaml))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: err = %v, want one about %s", name, err, tc.want)
		}
	}
}

func TestDirectoryLoad(t *testing.T) {
	ca, err := os.ReadFile("../../agent/directory/testdata/ca.pem")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	cfgPath := filepath.Join(dir, "serve.yaml")
	if err := os.WriteFile(cfgPath, []byte(minimal+directoryYAML), 0o600); err != nil {
		t.Fatal(err)
	}
	c, err := LoadConfig(cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	if c.Directory.CAFile != filepath.Join(dir, "directory-ca.pem") {
		t.Fatalf("ca_file not resolved against the file's directory: %s", c.Directory.CAFile)
	}
	if _, err := c.Directory.Load(); err == nil || !strings.Contains(err.Error(), "directory.ca_file") {
		t.Errorf("missing CA file: err = %v", err)
	}
	if err := os.WriteFile(c.Directory.CAFile, []byte("not a certificate"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Directory.Load(); err == nil || !strings.Contains(err.Error(), "directory.ca_certificate") {
		t.Errorf("bad CA file: err = %v", err)
	}
	if err := os.WriteFile(c.Directory.CAFile, ca, 0o644); err != nil {
		t.Fatal(err)
	}
	d, err := c.Directory.Load()
	if err != nil {
		t.Fatal(err)
	}
	if d.Realm != "ACME.EXAMPLE" || d.CACertificate != string(ca) || len(d.LDAPURIs) != 2 {
		t.Errorf("loaded %+v", d)
	}
}
