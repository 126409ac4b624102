// Package adminjson is the versioned --json output of `kiwistack-enroll
// admin …`: scripts depend on it, so fields are only ever added, and a
// breaking change gets a new schema name. It holds types only; an
// operation is the API's wire form (protocol.OperationInstance), whose
// fields are only ever added too.
package adminjson

import "github.com/kiwistack/endpoint/enroll/protocol"

// Schema names the shape of `admin … --json`.
const Schema = "kiwistack.admin/v1"

// Operation is the output of `admin request`, `sign`, `cancel` and
// `status ID`.
type Operation struct {
	Schema    string                     `json:"schema"`
	Operation protocol.OperationInstance `json:"operation"`
}

// List is the output of `admin list` and `admin status` without an id.
type List struct {
	Schema     string                       `json:"schema"`
	Operations []protocol.OperationInstance `json:"operations"`
}

// Audit is the output of `admin audit`.
type Audit struct {
	Schema string `json:"schema"`
	// Verified is set with --verify when the whole chain verified.
	Verified bool `json:"verified"`
	// HeadSeq and HeadHash are the last entry's; publish them elsewhere to
	// detect a later truncation.
	HeadSeq  int64                 `json:"head_seq"`
	HeadHash string                `json:"head_hash"`
	Entries  []protocol.AuditEntry `json:"entries"`
}

// RecoveryKey is the output of `admin recovery-key`: the operation, and
// once it applied, the released key as opened on this machine.
type RecoveryKey struct {
	Schema    string                     `json:"schema"`
	Operation protocol.OperationInstance `json:"operation"`
	// Released is set once the operation applied.
	Released *ReleasedKey `json:"released,omitempty"`
}

// ReleasedKey is a disk recovery key read through read_recovery_key.
type ReleasedKey struct {
	DeviceID string `json:"device_id"`
	// Volume is the LUKS UUID, KeySlot its key slot, EscrowID the escrow.
	Volume   string `json:"volume"`
	KeySlot  int    `json:"key_slot"`
	EscrowID string `json:"escrow_id"`
	// RecoveryKey is the key in its typed form (8 groups of 6 digits).
	RecoveryKey string `json:"recovery_key"`
}
