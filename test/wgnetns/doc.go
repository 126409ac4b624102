// Package wgnetns is an end-to-end test of a real WireGuard tunnel between
// two network namespaces, hub and laptop, joined by a veth pair: each side
// runs userspace wireguard-go in a helper process inside its namespace,
// keyed with wgkey.Derive from a software device key. It needs Linux, root,
// /dev/net/tun, ip(8) and ping(8); it skips elsewhere and says why, unless
// KIWISTACK_REQUIRE_HW_TESTS=1 makes it fail instead. It holds no code the
// product uses.
package wgnetns
