// Package directory is the agent's controller for directory login: when the
// tenant configuration (protocol.AgentConfig.Directory) names the tenant's
// directory (LDAP and Kerberos on the tunnel, e.g. Nubus), it configures
// SSSD the way Debian and Ubuntu expect, under the agent's root, so that the
// directory's users log in to the laptop with their directory password, get
// a Kerberos ticket, keep logging in offline after one online login, and
// get a home directory at their first login (docs/directory.md).
//
// It writes /etc/sssd/sssd.conf (0600), the directory's CA
// (/etc/sssd/kiwistack-directory-ca.pem), a krb5 snippet
// (/etc/krb5.conf.d/kiwistack.conf, included from /etc/krb5.conf), adds sss
// to the passwd, group and shadow databases of /etc/nsswitch.conf, and
// enables the sss and mkhomedir profiles with pam-auth-update. Every file is
// rendered by a pure function, written atomically and only when it differs;
// a bad or partial directory section is refused before anything is written.
// After configuring, it checks that an LDAP server and a KDC accept a
// connection and reports whether the directory is reachable (logins then
// fall back to cached credentials).
//
// It never starts SSSD's packages' installation, never edits PAM files by
// hand and never logs a user's data. macOS and Windows have no SSSD: there
// the controller reports "not applicable" (local accounts, directory login
// in the browser; DESIGN.md).
package directory
