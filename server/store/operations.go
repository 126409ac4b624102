package store

import (
	"context"
	"time"
)

// Operation is one stored instance of a privileged operation (the
// operations API, issue 7). The store keeps it; server/authz decides its
// state and the API applies it.
type Operation struct {
	// ID is the instance's id (128 random bits, base64url).
	ID string
	// Operation is the policy operation's name, e.g. "remote_wipe".
	Operation string
	// Tenant is the tenant slug.
	Tenant string
	// Params are the operation's parameters.
	Params map[string]string
	// Document is a body too large for a parameter (the new policy of a
	// policy_change), "" if none.
	Document string
	// Nonce, Digest and CancelDigest are the challenge's (authz.Request).
	Nonce, Digest, CancelDigest string
	// Policy is the policy operation pinned at creation, JSON; the store
	// does not read it.
	Policy []byte
	// State is the stored authz state; Reason its reason code.
	State, Reason string
	// CreatedAt, ExpiresAt (the challenge's end) and UpdatedAt.
	CreatedAt, ExpiresAt, UpdatedAt time.Time
	// AppliedAt is set with state "applied"; Effect says what applying did.
	AppliedAt time.Time
	Effect    string
}

// OperationSignature is one signed statement an operation received.
type OperationSignature struct {
	// Seq numbers the operation's signatures from 1 in order of receipt;
	// AddOperationSignature assigns it.
	Seq int
	// Statement is the compact JWS as received, kept for audit.
	Statement string
	// Kind is "approval", "operator" or "cancel".
	Kind string
	// Serial, Admin and Role name the signer (statement serial, CN, OU).
	Serial      uint32
	Admin, Role string
	// ReceivedAt is the server's receipt time.
	ReceivedAt time.Time
	// Verified is the API's verified form of the signature, JSON; the
	// store does not read it.
	Verified []byte
}

// OperationSnapshot is what UpdateOperation's decide function sees, read
// inside the transaction that then writes its decision.
type OperationSnapshot struct {
	Operation  Operation
	Signatures []OperationSignature
	// Roster is the whole roster, burned keys included.
	Roster []RosterEntry
}

// OperationUpdate is what decide returns: every field is applied in the
// same transaction, or none.
type OperationUpdate struct {
	// AddSignature, when set, is appended (its Seq is assigned).
	AddSignature *OperationSignature
	// State and Reason are stored; a change of state also records a
	// transition. An empty State keeps the stored one.
	State, Reason string
	// Effect, when set with State "applied", is applied to the roster,
	// devices, allowances or policies; EffectText is stored as
	// Operation.Effect.
	Effect     *Effect
	EffectText string
	// Audit records are appended in order.
	Audit []AuditRecord
}

// Effect is what applying an operation changes in the store. Fields left
// zero change nothing.
type Effect struct {
	// BurnSerial burns a roster key (burn_key).
	BurnSerial uint32
	// AddRoster adds a roster key (add_admin).
	AddRoster *RosterEntry
	// RemoveSerial removes a roster key (remove_admin): it is marked
	// burned and recorded as removed.
	RemoveSerial uint32
	// DeviceID and DeviceStatus set a device's status (remote_lock,
	// remote_wipe).
	DeviceID, DeviceStatus string
	// Command, when set, is queued for its device (remote_lock,
	// remote_wipe; commands.go).
	Command *Command
	// ReenrollDevice allows the re-enrollment of a device until
	// ReenrollUntil, allowed by ReenrollBy (reenroll_consent).
	ReenrollDevice string
	ReenrollBy     uint32
	ReenrollUntil  time.Time
	// PolicyDocument and PolicySHA256 record a new policy (policy_change).
	PolicyDocument, PolicySHA256 string
	// RetireIntermediate records the intermediate a rotate_intermediate
	// replaced (intermediates.go); its RetiredAt and OperationID are the
	// operation's.
	RetireIntermediate *RetiredIntermediate
	// EscrowRelease marks its escrow read and records the release
	// (read_recovery_key; disk_escrow.go). Its OperationID is the
	// operation's.
	EscrowRelease *EscrowRelease
}

// OperationStore is the part of Store that keeps operation instances.
type OperationStore interface {
	// CreateOperation inserts op in its initial state and appends rec in
	// one transaction; ErrExists if its id or nonce is known.
	CreateOperation(ctx context.Context, op Operation, rec AuditRecord) (Operation, AuditEntry, error)
	// Operation returns one operation and its signatures in order of
	// receipt; ErrNotFound if unknown.
	Operation(ctx context.Context, id string) (Operation, []OperationSignature, error)
	// Operations returns the operations whose state is one of states
	// (every operation when states is empty), newest first, at most limit.
	Operations(ctx context.Context, states []string, limit int) ([]Operation, error)
	// UpdateOperation reads operation id, its signatures and the roster,
	// calls decide with them and writes its OperationUpdate, all in one
	// transaction that holds the database's write lock: concurrent updates
	// of one operation (two signatures arriving at once) are serialized,
	// and each sees the other's result, so an operation is applied exactly
	// once. ErrNotFound if unknown; an error of decide is returned as is
	// and nothing is written.
	UpdateOperation(ctx context.Context, id string, decide func(OperationSnapshot) (OperationUpdate, error)) (Operation, []OperationSignature, error)
	// CurrentPolicy returns the newest policy that a policy_change applied
	// (its YAML and SHA-256); ErrNotFound if none ever was.
	CurrentPolicy(ctx context.Context) (document, sha256 string, err error)
}
