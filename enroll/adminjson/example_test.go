package adminjson_test

import (
	"encoding/json"
	"os"

	"github.com/kiwistack/endpoint/enroll/adminjson"
	"github.com/kiwistack/endpoint/enroll/protocol"
)

func Example() {
	out := adminjson.Audit{Schema: adminjson.Schema, Verified: true, HeadSeq: 1, HeadHash: "5d…",
		Entries: []protocol.AuditEntry{{Seq: 1, Time: "2026-11-28T09:00:00.000000000Z", Actor: 1000, Operation: "remote_wipe",
			ParamsDigest: "qop…", Result: "applied", PrevHash: protocol.AuditGenesisHash[:4] + "…", Hash: "5d…"}}}
	enc := json.NewEncoder(os.Stdout)
	enc.SetIndent("", "  ")
	_ = enc.Encode(out)
	// Output:
	// {
	//   "schema": "kiwistack.admin/v1",
	//   "verified": true,
	//   "head_seq": 1,
	//   "head_hash": "5d…",
	//   "entries": [
	//     {
	//       "seq": 1,
	//       "time": "2026-11-28T09:00:00.000000000Z",
	//       "actor": 1000,
	//       "operation": "remote_wipe",
	//       "params_digest": "qop…",
	//       "result": "applied",
	//       "reason": "",
	//       "prev_hash": "0000…",
	//       "hash": "5d…"
	//     }
	//   ]
	// }
}
