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
