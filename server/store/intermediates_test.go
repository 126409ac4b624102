package store

import (
	"context"
	"testing"
	"time"
)

// TestRetireIntermediate: a rotation's effect records the retired
// intermediate and marks the certificates recorded without an issuer as
// its; certificates of the new one keep theirs.
func TestRetireIntermediate(t *testing.T) {
	ctx := context.Background()
	s, _ := openTest(t)
	if err := s.AddRosterEntry(ctx, admin(10)); err != nil {
		t.Fatal(err)
	}
	d := device("hw1")
	d.Certificates = []DeviceCertificate{{Serial: "aa", NotAfter: t0.Add(time.Hour)}}
	created, err := s.CreateDevice(ctx, d)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.AddDeviceCertificate(ctx, created.ID, DeviceCertificate{Serial: "bb", NotAfter: t0.Add(2 * time.Hour), Issuer: "new"}); err != nil {
		t.Fatal(err)
	}
	if rs, err := s.RetiredIntermediates(ctx); err != nil || len(rs) != 0 {
		t.Fatalf("before: %v %v", rs, err)
	}
	if _, _, err := s.CreateOperation(ctx, testOperation("rot"), AuditRecord{}); err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.UpdateOperation(ctx, "rot", func(OperationSnapshot) (OperationUpdate, error) {
		return OperationUpdate{State: "applied", Effect: &Effect{RetireIntermediate: &RetiredIntermediate{SHA256: "old", Certificate: "PEM"}}}, nil
	}); err != nil {
		t.Fatal(err)
	}
	rs, err := s.RetiredIntermediates(ctx)
	if err != nil || len(rs) != 1 || rs[0].SHA256 != "old" || rs[0].OperationID != "rot" || rs[0].Certificate != "PEM" {
		t.Fatalf("retired %+v %v", rs, err)
	}
	got, err := s.DeviceByID(ctx, created.ID)
	if err != nil {
		t.Fatal(err)
	}
	issuers := map[string]string{}
	for _, c := range got.Certificates {
		issuers[c.Serial] = c.Issuer
	}
	if issuers["aa"] != "old" || issuers["bb"] != "new" {
		t.Errorf("issuers after the rotation: %v", issuers)
	}
	// Retiring the same intermediate twice is refused and changes nothing.
	if _, _, err := s.CreateOperation(ctx, testOperation("rot2"), AuditRecord{}); err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.UpdateOperation(ctx, "rot2", func(OperationSnapshot) (OperationUpdate, error) {
		return OperationUpdate{State: "applied", Effect: &Effect{RetireIntermediate: &RetiredIntermediate{SHA256: "old", Certificate: "PEM"}}}, nil
	}); err == nil {
		t.Error("the same intermediate retired twice")
	}
	if op, _, _ := s.Operation(ctx, "rot2"); op.State == "applied" {
		t.Error("a failed effect left the operation applied")
	}
}
