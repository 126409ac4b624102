package protocol

import (
	"fmt"
	"regexp"
	"strings"
)

// Disk recovery-key escrow (issue 9, docs/disk-escrow.md): the agent adds
// a recovery key to the laptop's disk encryption, seals it to the
// tenant's escrow public key (AgentConfig.Disk) and posts it to
// PathDeviceDiskEscrow over mutual TLS; an administrator reads it back
// through the signed read_recovery_key operation, whose applied result
// (PathOperationRecoveryKey) is the key re-sealed to a one-time key the
// administrator named in the request.
const (
	// OpReadRecoveryKey releases a device's escrowed recovery key to the
	// requesting administrator (high tier, sysadmin in the default
	// policy) and has the device rotate it at its next check-in.
	OpReadRecoveryKey = "read_recovery_key"
	// ParamRecipientKey is read_recovery_key's one-time public key
	// ("x25519:" and base64url) the released key is sealed to; every
	// signer signs it, so nobody can redirect the release.
	ParamRecipientKey = "recipient_key"

	// PathDeviceDiskEscrow is POST with the device certificate and a
	// DiskEscrowRequest; it answers a DiskEscrowResponse.
	PathDeviceDiskEscrow = "/v1/device/disk-escrow"
	// PathOperationRecoveryKey is GET /v1/operations/{id}/recovery-key:
	// an applied read_recovery_key's RecoveryKeyRelease.
	PathOperationRecoveryKey = "/v1/operations/{id}/recovery-key"
)

// DiskConfig is the tenant's disk-escrow configuration for one device.
type DiskConfig struct {
	// EscrowKey is the tenant's escrow public key ("x25519:" and
	// base64url) the agent seals recovery keys to.
	EscrowKey string `json:"escrow_key"`
	// RotateEscrow is the id of this device's escrowed key that an
	// administrator has read: the agent replaces that key. Absent when
	// the current key was never read.
	RotateEscrow string `json:"rotate_escrow,omitempty"`
}

// DiskEscrowRequest is the body of POST PathDeviceDiskEscrow.
type DiskEscrowRequest struct {
	// Volume is the volume's id: the LUKS2 UUID, FileVault's volume UUID
	// or BitLocker's volume id. The sealed key is bound to it.
	Volume string `json:"volume"`
	// KeySlot is the LUKS key slot (or protector index) that holds the
	// key, -1 when the platform has no slot numbers.
	KeySlot int `json:"key_slot"`
	// Sealed is the recovery key sealed to the escrow key
	// (internal/escrow.Seal, "kse1." and base64url).
	Sealed string `json:"sealed"`
	// Replaces is the escrow id this key replaces after a read, if any.
	Replaces string `json:"replaces,omitempty"`
}

var (
	volumeRE   = regexp.MustCompile(`^[A-Za-z0-9{}-]{1,64}$`)
	escrowIDRE = regexp.MustCompile(`^esc-[A-Za-z0-9_-]{22}$`)
)

// ValidEscrowID reports whether id has the form the API gives escrow ids.
func ValidEscrowID(id string) bool { return escrowIDRE.MatchString(id) }

// Validate checks the request's format; errors wrap ErrMalformed.
func (r *DiskEscrowRequest) Validate() error {
	if !volumeRE.MatchString(r.Volume) {
		return fmt.Errorf("%w: volume must be 1-64 of [A-Za-z0-9{}-] (a LUKS UUID)", ErrMalformed)
	}
	if r.KeySlot < -1 || r.KeySlot > 31 {
		return fmt.Errorf("%w: key_slot must be -1 or 0-31", ErrMalformed)
	}
	if !strings.HasPrefix(r.Sealed, "kse1.") || len(r.Sealed) > 512 {
		return fmt.Errorf("%w: sealed must be a sealed recovery key (kse1.…)", ErrMalformed)
	}
	if r.Replaces != "" && !ValidEscrowID(r.Replaces) {
		return fmt.Errorf("%w: replaces must be an escrow id (esc-…)", ErrMalformed)
	}
	return nil
}

// DiskEscrowResponse is the API's answer to a DiskEscrowRequest.
type DiskEscrowResponse struct {
	// EscrowID names the stored key (esc-…).
	EscrowID string `json:"escrow_id"`
}

// RecoveryKeyRelease is an applied read_recovery_key's result.
type RecoveryKeyRelease struct {
	// Operation is the operation id; the sealed key is bound to it.
	Operation string `json:"operation"`
	// DeviceID is the device whose key this is.
	DeviceID string `json:"device_id"`
	// EscrowID is the escrowed key that was read.
	EscrowID string `json:"escrow_id"`
	// Volume is the volume the key opens.
	Volume string `json:"volume"`
	// KeySlot is its LUKS key slot, -1 when none.
	KeySlot int `json:"key_slot"`
	// Sealed is the recovery key sealed to the request's recipient_key
	// (internal/escrow.SealRelease, "ksr1." and base64url).
	Sealed string `json:"sealed"`
}
