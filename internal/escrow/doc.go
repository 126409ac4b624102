// Package escrow owns the two formats of disk recovery-key escrow
// (docs/disk-escrow.md): the recovery key people type (8 groups of 6
// digits, each a multiple of 11, the BitLocker recovery-password layout)
// and the sealed envelope that carries it to the tenant, HPKE (RFC 9180:
// DHKEM X25519, HKDF-SHA256, AES-256-GCM) to the tenant's escrow public
// key, bound to tenant, device and volume.
//
// It is a leaf shared by the agent (which generates and seals) and the
// API (which opens and re-seals to the requesting administrator). It
// runs no command and stores nothing.
package escrow
