package authz

import (
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"fmt"
	"maps"
	"strings"
	"time"

	"github.com/kiwistack/endpoint/enroll/protocol"
	"github.com/kiwistack/endpoint/server/policy"
)

// CancelOperation is the operation id of a cancel statement: the one
// signature that cancels a staged operation (see Request.CancelDigest).
const CancelOperation = "cancel_operation"

// Parameters of a cancel statement.
const (
	CancelParamRequest   = "request_id"
	CancelParamOperation = "operation"
	CancelParamDigest    = "digest"
)

// MaxSkew is how far a statement's own timestamp may be from the server's
// receipt of it, either way.
const MaxSkew = 5 * time.Minute

// Request is one instance of an operation: what the challenge of hop 03
// describes and every signer signs.
type Request struct {
	// ID is the server's id of the instance.
	ID string
	// Operation is the operation's name in the policy, e.g. "add_admin".
	Operation string
	// Tenant is the tenant slug.
	Tenant string
	// Params are the operation's parameters.
	Params map[string]string
	// Nonce is the challenge's nonce.
	Nonce string
	// Digest is protocol.Operation{Operation, Tenant, Nonce, Params}.Digest():
	// what an approving statement must carry.
	Digest string
	// CancelDigest is the digest a cancel statement must carry (see
	// CancelStatementOperation).
	CancelDigest string
	// Created is when the server issued the challenge.
	Created time.Time
	// Expires is when the challenge ends: an operation not approved by
	// then expires. Zero means no limit beyond the policy's window.
	Expires time.Time
	// Policy is the policy operation the instance falls under, pinned
	// when it was created: a later policy_change does not alter it.
	Policy policy.Operation
	// State is the stored state; zero means StatePending. Evaluate
	// returns terminal states unchanged.
	State State
}

// NewRequest builds the Request of op (whose Nonce the server just drew)
// under the policy operation pol, computing both digests. It fails when op
// does not validate.
func NewRequest(id string, op protocol.Operation, pol policy.Operation, created, expires time.Time) (Request, error) {
	digest, err := op.Digest()
	if err != nil {
		return Request{}, fmt.Errorf("building request %s: %w", id, err)
	}
	r := Request{
		ID: id, Operation: op.ID, Tenant: op.Tenant, Params: maps.Clone(op.Params), Nonce: op.Nonce,
		Digest: digest, Created: created, Expires: expires, Policy: pol, State: StatePending,
	}
	if r.CancelDigest, err = r.CancelStatementOperation().Digest(); err != nil {
		return Request{}, fmt.Errorf("building request %s: cancel digest: %w", id, err)
	}
	return r, nil
}

// ProtocolOperation returns the operation that approving statements sign.
func (r Request) ProtocolOperation() protocol.Operation {
	return protocol.Operation{ID: r.Operation, Tenant: r.Tenant, Nonce: r.Nonce, Params: r.Params}
}

// CancelStatementOperation returns the operation a cancel statement signs:
// CancelOperation in the request's tenant with the request's nonce, and the
// request's id, operation name and digest as parameters.
func (r Request) CancelStatementOperation() protocol.Operation {
	return protocol.Operation{ID: CancelOperation, Tenant: r.Tenant, Nonce: r.Nonce, Params: map[string]string{
		CancelParamRequest: r.ID, CancelParamOperation: r.Operation, CancelParamDigest: r.Digest,
	}}
}

// Signature is one verified signed statement about a Request: the caller
// verified the JWS and its chain (the tenant intermediate, or the
// operator's trust anchor when Operator is set) before building it.
type Signature struct {
	// Serial is the signer's YubiKey serial (the statement's).
	Serial uint32
	// Admin is the certificate's CN.
	Admin string
	// Role is the certificate's OU; "" when it has none or several.
	Role string
	// SPKISHA256 is the hex SHA-256 of the certificate's public key.
	SPKISHA256 string
	// CertSerial and CertIssuer name the certificate, for the audit log.
	CertSerial, CertIssuer string
	// CertTenant is the certificate's O; "" when it has none or several.
	CertTenant string
	// Tenant, Operation and Digest are the statement's.
	Tenant, Operation, Digest string
	// Signed is the statement's timestamp.
	Signed time.Time
	// Received is when the server received the statement: windows and
	// delays are measured on these times.
	Received time.Time
	// Operator is set by the caller after verifying the signer's chain to
	// the KiwiStack operators' trust anchor (not the tenant's): the
	// signature is an operator co-signature and is not looked up in the
	// tenant's roster.
	Operator bool
	// Cancel marks a cancel statement (Operation CancelOperation).
	Cancel bool
}

// SignatureFromStatement builds the Signature of a statement and its
// signer's certificate as returned by protocol.Signed.Verify, received at
// received. operator says the chain was verified against the operators'
// trust anchor.
func SignatureFromStatement(stmt *protocol.Statement, leaf *x509.Certificate, received time.Time, operator bool) (Signature, error) {
	if stmt == nil || leaf == nil {
		return Signature{}, fmt.Errorf("building signature: %w: no statement or certificate", protocol.ErrStatement)
	}
	ts, err := stmt.Time()
	if err != nil {
		return Signature{}, fmt.Errorf("building signature of key %d: %w", stmt.YubiKeySerial, err)
	}
	sum := sha256.Sum256(leaf.RawSubjectPublicKeyInfo)
	s := Signature{
		Serial:     stmt.YubiKeySerial,
		Admin:      leaf.Subject.CommonName,
		Role:       single(leaf.Subject.OrganizationalUnit),
		SPKISHA256: hex.EncodeToString(sum[:]),
		CertIssuer: leaf.Issuer.String(),
		CertTenant: single(leaf.Subject.Organization),
		Tenant:     stmt.Tenant,
		Operation:  stmt.Operation,
		Digest:     stmt.Digest,
		Signed:     ts,
		Received:   received,
		Operator:   operator,
		Cancel:     stmt.Operation == CancelOperation,
	}
	if leaf.SerialNumber != nil {
		s.CertSerial = leaf.SerialNumber.Text(16)
	}
	return s, nil
}

// single returns the only element of v, or "".
func single(v []string) string {
	if len(v) == 1 {
		return v[0]
	}
	return ""
}

// Roster answers what the engine needs to know about a YubiKey serial at
// the time of evaluation.
type Roster interface {
	// Key returns the key registered for serial; ok is false when the
	// serial is not in the roster.
	Key(serial uint32) (key RosterKey, ok bool)
}

// RosterKey is what the roster holds about one key.
type RosterKey struct {
	// SPKISHA256 is the hex SHA-256 of the registered public key; empty
	// means the roster does not pin the key.
	SPKISHA256 string
	// Burned is set once burn_key ran: every signature of the key is void.
	Burned bool
}

// RosterMap is a Roster held in memory.
type RosterMap map[uint32]RosterKey

// Key implements Roster.
func (m RosterMap) Key(serial uint32) (RosterKey, bool) {
	k, ok := m[serial]
	return k, ok
}

// RosterFromPolicy returns the roster of policy entries.
func RosterFromPolicy(entries []policy.RosterEntry) RosterMap {
	m := make(RosterMap, len(entries))
	for _, e := range entries {
		m[e.Serial] = RosterKey{SPKISHA256: strings.ToLower(e.PublicKeySHA256), Burned: e.Burned}
	}
	return m
}
