package protocol

import (
	"bytes"
	"strings"
	"testing"
)

func FuzzDecodeOperationRequest(f *testing.F) {
	f.Add([]byte(`{"operation":"remote_wipe","tenant":"acme","params":{"device_id":"d-1"}}`))
	f.Add([]byte(`{"operation":"policy_change","tenant":"acme","params":{"document_sha256":"` + DocumentSHA256("x") + `"},"document":"x"}`))
	f.Add([]byte(`{"operation":"enroll_device","tenant":"acme","params":{}}`))
	f.Add([]byte(`{"operation":"a","tenant":"acme","params":{"a":"b"},"params":{}}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		var r OperationRequest
		err := DecodeJSON(bytes.NewReader(data), MaxOperationRequestBytes, &r)
		if err != nil {
			if Reason(err) != ReasonMalformed {
				t.Fatalf("error of reason %s: %v", Reason(err), err)
			}
			return
		}
		op := Operation{ID: r.Operation, Tenant: r.Tenant, Nonce: "AAAAAAAAAAAAAAAAAAAAAA", Params: r.Params}
		if _, err := op.Digest(); err != nil {
			t.Fatalf("a decoded request has no digest: %v", err)
		}
		if r.Document != "" && r.Params[ParamDocumentSHA256] != DocumentSHA256(r.Document) {
			t.Fatal("document accepted without its digest")
		}
	})
}

func FuzzDecodeSignatureRequest(f *testing.F) {
	f.Add([]byte(`{"statement":"a.b.c"}`))
	f.Add([]byte(`{"statement":""}`))
	f.Add([]byte(`{"statement":"a","x":1}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		var r SignatureRequest
		if err := DecodeJSON(bytes.NewReader(data), MaxRequestBytes, &r); err != nil {
			if Reason(err) != ReasonMalformed {
				t.Fatalf("error of reason %s: %v", Reason(err), err)
			}
			return
		}
		if r.Statement == "" || len(r.Statement) > MaxCompactSize {
			t.Fatalf("accepted statement of %d bytes", len(r.Statement))
		}
	})
}

func TestOperationInstanceValidate(t *testing.T) {
	inst := OperationInstance{ID: "id1", Operation: "remote_wipe", Tenant: "acme", Nonce: "AAAAAAAAAAAAAAAAAAAAAA",
		Params: map[string]string{"device_id": "d-1"}, State: "pending"}
	var err error
	if inst.Digest, err = inst.ProtocolOperation().Digest(); err != nil {
		t.Fatal(err)
	}
	if inst.CancelDigest, err = inst.CancelOperation().Digest(); err != nil {
		t.Fatal(err)
	}
	if err := inst.Validate(); err != nil {
		t.Fatal(err)
	}
	// A server that shows one device and has another signed is caught.
	bad := inst
	bad.Params = map[string]string{"device_id": "d-2"}
	if err := bad.Validate(); err == nil {
		t.Error("instance with parameters that do not match its digest validates")
	}
	bad = inst
	bad.CancelDigest = inst.Digest
	if err := bad.Validate(); err == nil {
		t.Error("instance with a wrong cancel digest validates")
	}
}

func TestVerifyAuditChain(t *testing.T) {
	var es []AuditEntry
	prev := AuditGenesisHash
	for i := int64(1); i <= 3; i++ {
		e := AuditEntry{Seq: i, Time: "2026-11-28T08:00:00.000000000Z", Actor: 1000, Operation: "burn_key", Result: "applied", PrevHash: prev}
		e.Hash = AuditHash(e)
		prev = e.Hash
		es = append(es, e)
	}
	if seq, hash, err := VerifyAuditChain(0, AuditGenesisHash, es); err != nil || seq != 3 || hash != prev {
		t.Fatalf("%d %s %v", seq, hash, err)
	}
	for name, edit := range map[string]func([]AuditEntry) []AuditEntry{
		"edited":    func(e []AuditEntry) []AuditEntry { e[1].Result = "rejected"; return e },
		"removed":   func(e []AuditEntry) []AuditEntry { return append(e[:1], e[2:]...) },
		"reordered": func(e []AuditEntry) []AuditEntry { e[1], e[2] = e[2], e[1]; return e },
	} {
		c := edit(append([]AuditEntry(nil), es...))
		if _, _, err := VerifyAuditChain(0, AuditGenesisHash, c); err == nil || !strings.Contains(err.Error(), "audit entry") {
			t.Errorf("%s: %v", name, err)
		}
	}
}
