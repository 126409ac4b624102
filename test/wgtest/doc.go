// Package wgtest runs userspace WireGuard devices (wireguard-go) inside
// network namespaces for Linux end-to-end tests: the test binary re-runs
// itself as a helper process in the namespace (ip netns exec), which
// creates the TUN interface and serves its UAPI socket in the machine's
// shared socket directory; tests then configure it over that socket.
//
// Call RunHelperIfAsked first in TestMain. Interface names must differ
// across namespaces, because the socket directory is shared.
package wgtest
