// Package hub keeps the tenant's WireGuard hub in step with the store: the
// hub interface's peer list is exactly the devices that are active and hold
// an unexpired certificate, each with the WireGuard key its certificate
// binds (the store's device record, which the API checked against the
// certificate's URI SAN) and a stable tunnel address from the hub's prefix
// (allocated once in the store, never reused).
//
// Sync brings the interface to that state with the smallest change (peers
// that stay keep their sessions); Run calls it when poked (the API pokes on
// every request and on revocation), at the next certificate expiry (a timer
// at the earliest NotAfter, not polling) and every Resync as a safety net
// for changes made by another process (kiwistack-api devices revoke). It
// talks to the interface through wgctrl (a kernel device or a userspace
// wireguard-go one over its UAPI socket); StartDevice runs such a userspace
// device in-process on Linux.
//
// It does not sign, revoke or verify certificates, and it does not route
// or filter traffic beyond WireGuard's allowed IPs.
package hub
