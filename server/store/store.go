// Package store owns the tenant API's persistent state: the roster of
// administrator YubiKeys, enrolled devices and their certificates, one-time
// nonces, and the hash-chained audit log. Store is the interface the API
// uses; SQLite (modernc.org/sqlite, pure Go, WAL) implements it, and a
// PostgreSQL store can follow behind the same interface.
//
// It stores and checks integrity; it does not verify signatures, apply policy
// or talk to the CA, and it never stores secrets (PINs, private keys).
package store

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// Sentinel errors; test with errors.Is.
var (
	// ErrExists reports a row whose key (serial, fingerprint, nonce, id,
	// public key) is already present.
	ErrExists = errors.New("already exists")
	// ErrNotFound reports a missing row, or a reference to one.
	ErrNotFound = errors.New("not found")
	// ErrNonceUsed reports a nonce that was already consumed.
	ErrNonceUsed = errors.New("nonce already used")
	// ErrNonceExpired reports a nonce past its expiry.
	ErrNonceExpired = errors.New("nonce expired")
	// ErrNotAllowed reports a re-enrollment without an unexpired allowance
	// for that hardware fingerprint and that device.
	ErrNotAllowed = errors.New("re-enrollment not allowed")
	// ErrTokenUsed, ErrTokenExpired and ErrTokenRevoked report a
	// bootstrap token that can no longer be claimed with.
	ErrTokenUsed    = errors.New("bootstrap token already used")
	ErrTokenExpired = errors.New("bootstrap token expired")
	ErrTokenRevoked = errors.New("bootstrap token revoked")
	// ErrAuditBroken reports an audit log whose hash chain does not verify;
	// the error is an *AuditError naming the first bad entry.
	ErrAuditBroken = errors.New("audit log integrity check failed")
)

// AuditError names the first audit entry that breaks the chain.
type AuditError struct {
	// Seq is the sequence number of the entry (or of the missing entry).
	Seq int64
	// Problem says what is wrong with it.
	Problem string
}

// Error implements error.
func (e *AuditError) Error() string {
	return fmt.Sprintf("audit entry %d: %s", e.Seq, e.Problem)
}

// Is reports ErrAuditBroken.
func (e *AuditError) Is(target error) bool { return target == ErrAuditBroken }

// RosterEntry is one administrator's YubiKey.
type RosterEntry struct {
	// Serial is the YubiKey serial number.
	Serial uint32
	// Admin is the administrator's name (CN of the slot 9a certificate).
	Admin string
	// Role is the administrator's role (OU of the slot 9a certificate).
	Role string
	// SPKISHA256 is the hex SHA-256 of the slot 9a public key's SPKI.
	SPKISHA256 string
	// Attestation is the PEM attestation chain recorded at provisioning.
	Attestation []byte
	// Burned is set once the key has been declared lost.
	Burned bool
	// BurnedAt is when the key was burned (zero if not).
	BurnedAt time.Time
	// AddedAt is when the entry was added.
	AddedAt time.Time
}

// Device statuses.
const (
	StatusActive  = "active"
	StatusLocked  = "locked"
	StatusRevoked = "revoked"
	StatusWiped   = "wiped"
	// StatusReplaced is a device record that a re-enrollment replaced
	// (Device.ReplacedBy names the new record); it is kept for history.
	StatusReplaced = "replaced"
)

// Device is an enrolled laptop.
type Device struct {
	// ID is the device id (the API derives it from the device key with
	// protocol.DeviceID); random, assigned by CreateDevice, when empty.
	ID string
	// Tenant is the tenant slug.
	Tenant string
	// HardwareFingerprint identifies the hardware; unique among devices
	// that are not replaced.
	HardwareFingerprint string
	// WireGuardPublicKey is the device's WireGuard key, base64; unique
	// among devices that are not replaced.
	WireGuardPublicKey string
	// Status is one of the Status constants.
	Status string
	// Replaces is the id of the device record this one replaced (a
	// re-enrollment), "" if none. CompleteEnrollment acts on it.
	Replaces string
	// ReplacedBy is the id of the device record that replaced this one,
	// set with StatusReplaced; read only.
	ReplacedBy string
	// EnrolledBy is the serial of the YubiKey that signed the enrollment;
	// 0 for a laptop that claimed with a bootstrap token (ClaimedWith).
	EnrolledBy uint32
	// ClaimedWith is the id of the bootstrap token an OEM laptop claimed
	// with (BootstrapToken.ID), "" for a device a YubiKey enrolled. Exactly
	// one of EnrolledBy and ClaimedWith is set.
	ClaimedWith string
	// Certificates are the device's certificates, oldest first.
	Certificates []DeviceCertificate
	// CreatedAt and UpdatedAt are set by the store when zero.
	CreatedAt, UpdatedAt time.Time
}

// DeviceCertificate records one certificate issued to a device.
type DeviceCertificate struct {
	// Serial is the certificate serial number in hex.
	Serial string
	// NotAfter is the end of the certificate's validity.
	NotAfter time.Time
	// IssuedAt is when the certificate was issued.
	IssuedAt time.Time
	// Issuer is the SHA-256 (hex) of the intermediate that issued it; ""
	// for certificates recorded before intermediates were tracked, which
	// a rotation marks with the intermediate it retires.
	Issuer string
}

// Reenrollment is an allowance to enroll a known laptop again: the next
// enrollment of HardwareFingerprint before ExpiresAt replaces DeviceID.
type Reenrollment struct {
	// HardwareFingerprint is the laptop's hardware fingerprint.
	HardwareFingerprint string
	// DeviceID is the device record the re-enrollment replaces.
	DeviceID string
	// AllowedBy is the YubiKey serial of the administrator who allowed it;
	// 0 is the tenant's operator at the server.
	AllowedBy uint32
	// AllowedAt is when it was allowed.
	AllowedAt time.Time
	// ExpiresAt is when it stops being accepted.
	ExpiresAt time.Time
}

// Nonce is a one-time server nonce bound to one operation instance.
type Nonce struct {
	// Value is the nonce, base64url.
	Value string
	// Operation is the operation id it was issued for.
	Operation string
	// Digest is the canonical digest of the operation (protocol.Operation).
	Digest string
	// CreatedAt is when it was issued.
	CreatedAt time.Time
	// ExpiresAt is when it stops being accepted.
	ExpiresAt time.Time
	// UsedAt is when it was consumed (zero if not).
	UsedAt time.Time
}

// AuditRecord is what a caller appends to the audit log.
type AuditRecord struct {
	// Time is when it happened; the store's clock when zero.
	Time time.Time
	// Actor is the YubiKey serial of the signer, 0 when unknown.
	Actor uint32
	// Operation is the operation id.
	Operation string
	// ParamsDigest is the canonical digest of the operation, "" if none.
	ParamsDigest string
	// Result is the outcome, e.g. "accepted" or "rejected".
	Result string
	// Reason is the reason code of a rejection, "" otherwise.
	Reason string
}

// AuditEntry is a record as stored: with its place in the hash chain.
type AuditEntry struct {
	AuditRecord
	// Seq is the entry's sequence number, from 1 without gaps.
	Seq int64
	// PrevHash is the Hash of the previous entry (GenesisHash for the first).
	PrevHash string
	// Hash commits to PrevHash and every field of this entry (EntryHash).
	Hash string
}

// AuditHead is the last entry of a verified chain; publishing it elsewhere
// (a log line, a signed checkpoint) lets truncation be detected later.
type AuditHead struct {
	// Seq is the last sequence number (0 for an empty log).
	Seq int64
	// Hash is the last hash (GenesisHash for an empty log).
	Hash string
}

// Store is the API's view of persistent state. Every method that writes does
// so in one transaction: it either applies completely or not at all.
type Store interface {
	// OperationStore keeps the operations API's instances (operations.go).
	OperationStore
	// TunnelStore keeps the hub's tunnel addresses and device
	// revocations (tunnel.go).
	TunnelStore
	// TrustStore keeps the trust list of BYOC signers (trust.go).
	TrustStore
	// CommandStore keeps device commands (commands.go).
	CommandStore
	// IntermediateStore keeps the retired intermediates (intermediates.go).
	IntermediateStore
	// DiskEscrowStore keeps escrowed disk recovery keys (disk_escrow.go).
	DiskEscrowStore

	// AddRosterEntry adds a YubiKey; ErrExists if the serial or key is known.
	AddRosterEntry(ctx context.Context, e RosterEntry) error
	// BurnKey marks a serial burned at time at; ErrNotFound if unknown.
	// Burning a burned key keeps the first time and succeeds.
	BurnKey(ctx context.Context, serial uint32, at time.Time) error
	// RosterEntry returns one entry; ErrNotFound if unknown.
	RosterEntry(ctx context.Context, serial uint32) (RosterEntry, error)
	// RosterEntries returns all entries ordered by serial.
	RosterEntries(ctx context.Context) ([]RosterEntry, error)

	// IssueNonce records a new nonce; ErrExists if it was ever issued.
	IssueNonce(ctx context.Context, n Nonce) error
	// LookupNonce returns a nonce without consuming it; ErrNotFound if unknown.
	LookupNonce(ctx context.Context, value string) (Nonce, error)
	// ConsumeNonce marks a nonce used at now, exactly once even under
	// concurrent callers: ErrNotFound, ErrNonceUsed or ErrNonceExpired
	// otherwise.
	ConsumeNonce(ctx context.Context, value string, now time.Time) (Nonce, error)

	// CreateDevice inserts a device and its certificates; ErrExists if the
	// id, hardware fingerprint or WireGuard key is taken, ErrNotFound if
	// EnrolledBy is not in the roster. It replaces no device: d.Replaces
	// must be empty.
	CreateDevice(ctx context.Context, d Device) (Device, error)
	// DeviceByFingerprint returns the device with that hardware
	// fingerprint that is not replaced; ErrNotFound if none.
	DeviceByFingerprint(ctx context.Context, fingerprint string) (Device, error)
	// DeviceByID returns the device with that id, whatever its status;
	// ErrNotFound if none.
	DeviceByID(ctx context.Context, id string) (Device, error)
	// Devices returns every device record, replaced ones included, in the
	// order they were created.
	Devices(ctx context.Context) ([]Device, error)
	// CompleteEnrollment consumes the nonce, creates the device and appends
	// the audit record in one transaction: if any step fails nothing is
	// written, and the caller appends its rejection with AppendAudit.
	//
	// When d.Replaces names a device, the enrollment is a re-enrollment: in
	// the same transaction it consumes the unexpired allowance for
	// d.HardwareFingerprint and that device (ErrNotAllowed if there is
	// none, so one allowance admits one re-enrollment even under concurrent
	// callers) and marks that device StatusReplaced by the new one.
	CompleteEnrollment(ctx context.Context, nonce string, now time.Time, d Device, rec AuditRecord) (Device, AuditEntry, error)

	// CreateBootstrapToken records a bootstrap token (only its hash) and
	// appends rec in one transaction; ErrExists if its id or hash is known.
	CreateBootstrapToken(ctx context.Context, t BootstrapToken, rec AuditRecord) (BootstrapToken, AuditEntry, error)
	// BootstrapTokenByHash returns the token whose SHA-256 (hex) is sum;
	// ErrNotFound if none.
	BootstrapTokenByHash(ctx context.Context, sum string) (BootstrapToken, error)
	// BootstrapTokens returns every bootstrap token, oldest first.
	BootstrapTokens(ctx context.Context) ([]BootstrapToken, error)
	// RevokeBootstrapToken marks the token id revoked at at and appends rec
	// in one transaction: ErrNotFound if unknown, ErrTokenUsed if a laptop
	// claimed with it, ErrTokenRevoked if it already is.
	RevokeBootstrapToken(ctx context.Context, id string, at time.Time, rec AuditRecord) (AuditEntry, error)
	// CompleteClaim consumes the bootstrap token whose SHA-256 (hex) is
	// sum, creates the device (its ClaimedWith set to the token's id) and
	// appends rec in one transaction, exactly once even under concurrent
	// callers: ErrNotFound, ErrTokenUsed, ErrTokenRevoked or
	// ErrTokenExpired otherwise, and nothing is written. d.Replaces works
	// as in CompleteEnrollment.
	CompleteClaim(ctx context.Context, sum string, now time.Time, d Device, rec AuditRecord) (Device, AuditEntry, error)

	// AllowReenrollment allows the next enrollment of the hardware
	// fingerprint of device deviceID to replace it until until, replacing
	// any earlier allowance for that fingerprint; by is the allowing
	// YubiKey's serial, 0 for the operator at the server. ErrNotFound if
	// the device is unknown or already replaced.
	AllowReenrollment(ctx context.Context, deviceID string, by uint32, until time.Time) error
	// Reenrollment returns the allowance for a hardware fingerprint, expired
	// or not; ErrNotFound if there is none (or it was consumed).
	Reenrollment(ctx context.Context, fingerprint string) (Reenrollment, error)

	// AppendAudit appends one record to the hash chain.
	AppendAudit(ctx context.Context, rec AuditRecord) (AuditEntry, error)
	// AuditEntries returns up to limit entries with Seq > after, in order.
	AuditEntries(ctx context.Context, after int64, limit int) ([]AuditEntry, error)
	// VerifyAudit checks the whole chain and returns its head; the error
	// wraps ErrAuditBroken (an *AuditError) when an entry was edited,
	// removed, inserted or reordered.
	VerifyAudit(ctx context.Context) (AuditHead, error)

	// Close releases the store.
	Close() error
}
