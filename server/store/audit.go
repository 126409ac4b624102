package store

import (
	"github.com/kiwistack/endpoint/enroll/protocol"
)

// GenesisHash is the PrevHash of the first audit entry.
var GenesisHash = protocol.AuditGenesisHash

// EntryHash returns the hash of an audit entry: protocol.AuditHash of its
// wire form (ToProtocol), i.e. the hex SHA-256 of the domain string
// "kiwistack-audit-v1" followed by, in this order, seq (decimal), time
// (TimeLayout, UTC), actor (decimal), operation, params digest, result,
// reason and prev hash, each as a 4-byte big-endian length and its bytes.
// Because seq and prev hash are inside, editing, removing, inserting or
// reordering any entry breaks every later link. Clients verify the chain
// with protocol.VerifyAuditChain.
func EntryHash(e AuditEntry) string {
	return protocol.AuditHash(e.ToProtocol())
}

// ToProtocol returns the entry's wire form (GET /v1/audit).
func (e AuditEntry) ToProtocol() protocol.AuditEntry {
	return protocol.AuditEntry{
		Seq: e.Seq, Time: formatTime(e.Time), Actor: e.Actor, Operation: e.Operation, ParamsDigest: e.ParamsDigest,
		Result: e.Result, Reason: e.Reason, PrevHash: e.PrevHash, Hash: e.Hash,
	}
}
