// Package server is the companion enrollment API of one tenant: HTTP
// handlers, the policy-as-code authorization service, the store, the
// hash-chained audit log, the bridge to step-ca, and the WireGuard hub's peer
// list. It shares wire types with the laptop only through enroll/protocol.
package server
