package protocol

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Operations of the operations API (POST /v1/operations) with an effect
// in this version, and the names of their parameters.
const (
	OpBurnKey         = "burn_key"
	OpAddAdmin        = "add_admin"
	OpRemoveAdmin     = "remove_admin"
	OpPolicyChange    = "policy_change"
	OpReenrollConsent = "reenroll_consent"
	OpRemoteLock      = "remote_lock"
	OpRemoteWipe      = "remote_wipe"
	// OpRotateIntermediate replaces the tenant intermediate with the one
	// its document (PEM) holds, issued by the MSP root (seed D4 03).
	OpRotateIntermediate = "rotate_intermediate"
	// OpChangeJurisdiction and OpTenantDelete are staged behind their
	// delays and the operator co-signature; applying them records the
	// decision only (the migration or deletion itself is the operator's).
	OpChangeJurisdiction = "change_jurisdiction"
	OpTenantDelete       = "tenant_delete"
	// OpReadAudit grants reading the audit log (GET /v1/audit) and
	// OpReadStatus the operation list (GET /v1/operations) to the holder of
	// the one-time key its reader_key parameter names (readgrant.go).
	OpReadAudit  = "read_audit"
	OpReadStatus = "read_status"
)

// Parameter names of the operations.
const (
	ParamDeviceID        = "device_id"         // remote_lock, remote_wipe, reenroll_consent
	ParamSerial          = "serial"            // burn_key, remove_admin, add_admin: a YubiKey serial, decimal
	ParamAdmin           = "admin"             // add_admin: CN
	ParamRole            = "role"              // add_admin: OU
	ParamPublicKeySHA256 = "public_key_sha256" // add_admin: hex SHA-256 of the slot 9a SPKI
	ParamCertificate     = "certificate"       // add_admin: the slot 9a certificate, PEM
	ParamDocumentSHA256  = "document_sha256"   // policy_change: hex SHA-256 of OperationRequest.Document
	ParamJurisdiction    = "jurisdiction"      // change_jurisdiction: the target jurisdiction
	ParamReason          = "reason"            // optional on every operation: why, in words
)

// MaxDocumentBytes bounds OperationRequest.Document (a policy file).
const MaxDocumentBytes = 1 << 20

// MaxOperationRequestBytes bounds the body of POST /v1/operations.
const MaxOperationRequestBytes = 2*MaxDocumentBytes + 64<<10

// OperationRequest asks the API for a new operation instance (hop 01).
type OperationRequest struct {
	// Operation is the operation's name in the tenant's policy.
	Operation string `json:"operation"`
	// Tenant is the tenant slug.
	Tenant string `json:"tenant"`
	// Params are the operation's parameters; every signer signs them.
	Params map[string]string `json:"params"`
	// Document is a body too large for a parameter: the new policy YAML of
	// policy_change. Params carry its SHA-256 (ParamDocumentSHA256), so
	// the signatures cover it.
	Document string `json:"document,omitempty"`
}

// Validate checks the request's format; errors wrap ErrMalformed.
func (r *OperationRequest) Validate() error {
	op := Operation{ID: r.Operation, Tenant: r.Tenant, Nonce: "AAAAAAAAAAAAAAAAAAAAAA", Params: r.Params}
	if err := op.Validate(); err != nil {
		return fmt.Errorf("%w: %w", ErrMalformed, err)
	}
	if r.Operation == OpEnrollDevice {
		return fmt.Errorf("%w: enroll_device has its own endpoints (/v1/challenges, /v1/enrollments)", ErrMalformed)
	}
	if len(r.Document) > MaxDocumentBytes {
		return fmt.Errorf("%w: document larger than %d bytes", ErrMalformed, MaxDocumentBytes)
	}
	if r.Document != "" {
		if want := DocumentSHA256(r.Document); r.Params[ParamDocumentSHA256] != want {
			return fmt.Errorf("%w: params.%s must be the SHA-256 of document (%s)", ErrMalformed, ParamDocumentSHA256, want)
		}
	}
	return nil
}

// DocumentSHA256 returns the hex SHA-256 of a document.
func DocumentSHA256(doc string) string {
	sum := sha256.Sum256([]byte(doc))
	return hex.EncodeToString(sum[:])
}

// SignatureRequest carries one signed statement about an operation
// instance: an approval (POST /v1/operations/{id}/signatures) or a cancel
// (POST /v1/operations/{id}/cancellations).
type SignatureRequest struct {
	// Statement is the compact signed statement (Sign).
	Statement string `json:"statement"`
}

// Validate checks that the statement is present and not oversize.
func (r *SignatureRequest) Validate() error {
	if r.Statement == "" {
		return fmt.Errorf("%w: statement missing", ErrMalformed)
	}
	if len(r.Statement) > MaxCompactSize {
		return fmt.Errorf("%w: statement larger than %d bytes", ErrMalformed, MaxCompactSize)
	}
	return nil
}

// OperationSignature is one signature an instance received, as the API
// reports it.
type OperationSignature struct {
	// Serial is the signer's YubiKey serial (0 for an operator key).
	Serial uint32 `json:"serial"`
	// Admin and Role are the certificate's CN and OU.
	Admin string `json:"admin"`
	Role  string `json:"role,omitempty"`
	// Kind is "approval", "operator" or "cancel".
	Kind string `json:"kind"`
	// ReceivedAt is when the server received it (TimestampLayout).
	ReceivedAt string `json:"received_at"`
	// Counted is set when the decision rests on it.
	Counted bool `json:"counted"`
	// Reason is why it does not count ("" when valid), e.g. key_burned.
	Reason string `json:"reason,omitempty"`
}

// OperationInstance is one operation instance: the challenge of hop 03
// and its progress. Approving statements sign Operation{Operation, Tenant,
// Nonce, Params} (whose digest is Digest); a cancel signs
// CancelOperation().
type OperationInstance struct {
	// ID is the instance's id: "op-" and 128 random bits in base64url.
	ID        string            `json:"id"`
	Operation string            `json:"operation"`
	Tenant    string            `json:"tenant"`
	Params    map[string]string `json:"params"`
	Nonce     string            `json:"nonce"`
	// Digest is what an approving statement signs.
	Digest string `json:"digest"`
	// CancelDigest is what a cancel statement signs.
	CancelDigest string `json:"cancel_digest"`
	// Description says the operation in words, e.g. "remote_wipe of
	// device d-… in acme-corp".
	Description string `json:"description"`
	// State is pending, staged, approved, applied, cancelled, expired or
	// rejected; Reason its reason code; Summary both in words.
	State   string `json:"state"`
	Reason  string `json:"reason,omitempty"`
	Summary string `json:"summary"`
	// RequiredRoles has one role per tenant signature the policy asks for;
	// Missing says what is still needed, in words.
	RequiredRoles []string `json:"required_roles"`
	Missing       []string `json:"missing,omitempty"`
	// OperatorCosign says a KiwiStack operator must co-sign;
	// OperatorMissing that the co-signature is still absent.
	OperatorCosign  bool `json:"operator_cosign"`
	OperatorMissing bool `json:"operator_missing,omitempty"`
	// Window and Delay are Go durations ("5m0s", "168h0m0s"), "" for none.
	Window      string `json:"window,omitempty"`
	Delay       string `json:"delay,omitempty"`
	Cancellable bool   `json:"cancellable"`
	// Times in TimestampLayout; empty when not (yet) known.
	CreatedAt  string `json:"created_at"`
	ExpiresAt  string `json:"expires_at"`
	ApprovedAt string `json:"approved_at,omitempty"`
	ApplyAt    string `json:"apply_at,omitempty"`
	AppliedAt  string `json:"applied_at,omitempty"`
	// Effect says what applying did, in words.
	Effect string `json:"effect,omitempty"`
	// Signatures are the statements received, in order of receipt.
	Signatures []OperationSignature `json:"signatures"`
	// Lockouts, after a burn_key, name the operations the remaining keys
	// can no longer sign ("operation: reason").
	Lockouts []string `json:"lockouts,omitempty"`
}

// ProtocolOperation returns the operation an approving statement signs.
func (o *OperationInstance) ProtocolOperation() Operation {
	return Operation{ID: o.Operation, Tenant: o.Tenant, Nonce: o.Nonce, Params: o.Params}
}

// CancelOperationName is the operation id of a cancel statement.
const CancelOperationName = "cancel_operation"

// CancelOperation returns the operation a cancel statement signs: the
// instance's id, operation name and digest under CancelOperationName.
func (o *OperationInstance) CancelOperation() Operation {
	return Operation{ID: CancelOperationName, Tenant: o.Tenant, Nonce: o.Nonce, Params: map[string]string{
		"request_id": o.ID, "operation": o.Operation, "digest": o.Digest,
	}}
}

// Validate checks that the instance's digests are those of its content, so
// that a client never signs something other than what it shows; errors
// wrap ErrMalformed.
func (o *OperationInstance) Validate() error {
	if o.ID == "" || o.State == "" {
		return fmt.Errorf("%w: operation instance without id or state", ErrMalformed)
	}
	d, err := o.ProtocolOperation().Digest()
	if err != nil {
		return fmt.Errorf("%w: %w", ErrMalformed, err)
	}
	if d != o.Digest {
		return fmt.Errorf("%w: digest does not match the operation's content", ErrMalformed)
	}
	if cd, err := o.CancelOperation().Digest(); err != nil || cd != o.CancelDigest {
		return fmt.Errorf("%w: cancel_digest does not match the operation", ErrMalformed)
	}
	return nil
}

// OperationList is the answer of GET /v1/operations.
type OperationList struct {
	Operations []OperationInstance `json:"operations"`
}

// Validate checks every instance.
func (l *OperationList) Validate() error {
	for i := range l.Operations {
		if err := l.Operations[i].Validate(); err != nil {
			return fmt.Errorf("operations[%d]: %w", i, err)
		}
	}
	return nil
}

// AuditTimeLayout is the layout of AuditEntry.Time: UTC, nanoseconds,
// fixed width.
const AuditTimeLayout = "2006-01-02T15:04:05.000000000Z"

// AuditGenesisHash is the PrevHash of the first audit entry.
var AuditGenesisHash = strings.Repeat("0", 64)

// AuditEntry is one entry of the tenant's hash-chained audit log, as GET
// /v1/audit returns it.
type AuditEntry struct {
	Seq          int64  `json:"seq"`
	Time         string `json:"time"`
	Actor        uint32 `json:"actor"`
	Operation    string `json:"operation"`
	ParamsDigest string `json:"params_digest"`
	Result       string `json:"result"`
	Reason       string `json:"reason"`
	PrevHash     string `json:"prev_hash"`
	Hash         string `json:"hash"`
}

// auditDomain separates audit hashes from any other SHA-256 use.
const auditDomain = "kiwistack-audit-v1"

// AuditHash returns the hash an audit entry must carry: the hex SHA-256 of
// the domain string "kiwistack-audit-v1" followed by, in this order, seq
// (decimal), time (AuditTimeLayout, UTC), actor (decimal), operation,
// params digest, result, reason and prev hash, each as a 4-byte big-endian
// length and its bytes. Because seq and prev hash are inside, editing,
// removing, inserting or reordering any entry breaks every later link.
func AuditHash(e AuditEntry) string {
	h := sha256.New()
	field := func(s string) {
		var n [4]byte
		binary.BigEndian.PutUint32(n[:], uint32(len(s)))
		h.Write(n[:])
		h.Write([]byte(s))
	}
	field(auditDomain)
	field(strconv.FormatInt(e.Seq, 10))
	field(e.Time)
	field(strconv.FormatUint(uint64(e.Actor), 10))
	field(e.Operation)
	field(e.ParamsDigest)
	field(e.Result)
	field(e.Reason)
	field(e.PrevHash)
	return hex.EncodeToString(h.Sum(nil))
}

// FormatAuditTime formats t as AuditEntry.Time.
func FormatAuditTime(t time.Time) string { return t.UTC().Format(AuditTimeLayout) }

// AuditPage is the answer of GET /v1/audit?after=N: up to a page of
// entries with Seq > N, in order; More says that a next page exists.
type AuditPage struct {
	Entries []AuditEntry `json:"entries"`
	More    bool         `json:"more"`
}

// VerifyAuditChain checks that entries continue the chain whose last entry
// is (afterSeq, afterHash) (0 and AuditGenesisHash for the start): gapless
// sequence numbers, each PrevHash the previous Hash, each Hash AuditHash.
// It returns the new head, or an error naming the first bad entry.
func VerifyAuditChain(afterSeq int64, afterHash string, entries []AuditEntry) (int64, string, error) {
	seq, hash := afterSeq, afterHash
	for _, e := range entries {
		switch {
		case e.Seq != seq+1:
			return seq, hash, fmt.Errorf("audit entry %d: missing (got %d)", seq+1, e.Seq)
		case e.PrevHash != hash:
			return seq, hash, fmt.Errorf("audit entry %d: does not follow the previous entry", e.Seq)
		case AuditHash(e) != e.Hash:
			return seq, hash, fmt.Errorf("audit entry %d: content does not match its hash", e.Seq)
		}
		seq, hash = e.Seq, e.Hash
	}
	return seq, hash, nil
}
