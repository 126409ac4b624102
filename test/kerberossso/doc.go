// Package kerberossso is the end-to-end proof of Kerberos single sign-on
// into the app windows (seed "Desktop apps", C3): an MIT KDC
// (test/krb5test) and Apache with mod_auth_gssapi requiring SPNEGO
// Negotiate for mail.od.acme.kiwistack.io run in a "hub" network
// namespace; Debian's headless Chromium runs in a "laptop" namespace,
// joined to the hub by a veth pair, with alice's ticket, the managed
// policy the launchers render (bind-mounted over /etc/chromium in a
// private mount namespace) and a namespace-private /etc/hosts, so that
// neither the machine's /etc nor its resolver is used. It shows that the
// first window of a fresh Work profile loads the app authenticated as
// alice with no prompt, both in a home that existed when the launchers
// were rendered (seeded in place) and in one made later from the rendered
// /etc/skel, and that without that seeding (launchers/localstate) it does
// not; that a host outside the policy's allowlist gets no ticket; and that
// without a ticket the server answers 401.
//
// It needs Linux, root, ip(8), unshare(1), mount(8), Debian's chromium,
// apache2, libapache2-mod-auth-gssapi, krb5-kdc and krb5-user; it skips
// elsewhere and says why, unless KIWISTACK_REQUIRE_HW_TESTS=1 makes it fail
// instead. It holds no code the product uses.
package kerberossso
