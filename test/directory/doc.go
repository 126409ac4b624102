// Package directory is the end-to-end test of directory login over the
// tunnel (issue 8, docs/directory.md): Debian's slapd (OpenLDAP, its own
// configuration and database in the test's directory) and MIT krb5-kdc
// (test/krb5test) run in a hub network namespace as the stand-in for the
// tenant's Nubus; a laptop namespace reaches them only through a WireGuard
// tunnel (wireguard-go in helper processes). In the laptop namespace, inside
// a private mount namespace whose /etc, /var/lib/sss, /var/lib/pam, /home
// and /tmp are overlays or scratch directories (the machine's own files are
// never touched), the agent's directory controller (agent/directory)
// configures SSSD, NSS and PAM from a protocol.DirectoryConfig and a real
// sssd runs; getent, pamtester and klist prove login, tickets and offline
// login.
//
// It needs Linux, root, /dev/net/tun and Debian's slapd, ldap-utils,
// krb5-kdc, krb5-user, sssd, sssd-tools, libpam-sss, libnss-sss and
// pamtester (scripts/install-test-deps); it skips elsewhere and says why,
// unless KIWISTACK_REQUIRE_HW_TESTS=1 makes it fail instead. It holds no
// code the product uses.
package directory
