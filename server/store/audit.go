package store

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"strconv"
	"strings"
)

// GenesisHash is the PrevHash of the first audit entry.
var GenesisHash = strings.Repeat("0", 64)

// auditDomain separates audit hashes from any other SHA-256 use.
const auditDomain = "kiwistack-audit-v1"

// EntryHash returns the hash of an audit entry: the hex SHA-256 of the
// domain string "kiwistack-audit-v1" followed by, in this order, seq (decimal),
// time (TimeLayout, UTC), actor (decimal), operation, params digest, result,
// reason and prev hash, each as a 4-byte big-endian length and its bytes.
// Because seq and prev hash are inside, editing, removing, inserting or
// reordering any entry breaks every later link.
func EntryHash(e AuditEntry) string {
	h := sha256.New()
	field := func(s string) {
		var n [4]byte
		binary.BigEndian.PutUint32(n[:], uint32(len(s)))
		h.Write(n[:])
		h.Write([]byte(s))
	}
	field(auditDomain)
	field(strconv.FormatInt(e.Seq, 10))
	field(formatTime(e.Time))
	field(strconv.FormatUint(uint64(e.Actor), 10))
	field(e.Operation)
	field(e.ParamsDigest)
	field(e.Result)
	field(e.Reason)
	field(e.PrevHash)
	return hex.EncodeToString(h.Sum(nil))
}
