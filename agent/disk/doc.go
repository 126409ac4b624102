// Package disk is the agent's disk recovery-key controller
// (docs/disk-escrow.md). On a LUKS2 root volume it adds a recovery key
// people can type (internal/escrow) in a free key slot, authenticated by
// the key file the installer provisioned, seals the key to the tenant's
// escrow public key from the tenant configuration, posts it to the API
// over mutual TLS with the device certificate, and keeps only the slot
// number and the escrow id in its state file. When the check-in says the
// escrowed key was read, it adds and escrows a new key before it kills
// the old slot; every step is recorded first, so a crash at any point
// resumes without losing the escrowed key or leaving a slot nobody knows.
//
// It never stores or logs the recovery key in clear. It runs no
// cryptsetup itself (platform/luks does) and decides nothing about who
// may read a key (the API's read_recovery_key operation does). On macOS
// and Windows Fleet performs the escrow (docs/disk-escrow.md); this
// controller reports that hand-off.
package disk
