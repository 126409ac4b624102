// Package tunnel is the end-to-end test of the certificate-bound WireGuard
// tunnel, with the built binaries in two network namespaces: the hub
// namespace runs `kiwistack-api dev` with its in-process WireGuard hub, the
// laptop namespace runs `kiwistack-agent run --root SANDBOX`, which claims
// its identity with an OEM bootstrap token, brings the tunnel up and pings
// the hub through it; the certificates are short-lived, so the test sees a
// renewal with the tunnel still up, then `kiwistack-api devices revoke`:
// the hub drops the peer, the ping fails and the agent reports revoked. It
// logs the machine time from the agent's start to the tunnel being up.
//
// It needs Linux, root, /dev/net/tun, ip(8) and ping(8); it skips elsewhere
// and says why, unless KIWISTACK_REQUIRE_HW_TESTS=1 makes it fail instead.
// It holds no code the product uses.
package tunnel
