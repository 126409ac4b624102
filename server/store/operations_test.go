package store

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"
)

func testOperation(id string) Operation {
	return Operation{ID: id, Operation: "burn_key", Tenant: "acme", Params: map[string]string{"serial": "1"},
		Nonce: "nonce-" + id, Digest: "digest-" + id, CancelDigest: "cancel-" + id, Policy: []byte(`{}`),
		State: "pending", Reason: "signatures_missing", ExpiresAt: t0.Add(time.Hour)}
}

func TestOperations(t *testing.T) {
	ctx := context.Background()
	s, _ := openTest(t)
	if err := s.AddRosterEntry(ctx, admin(1)); err != nil {
		t.Fatal(err)
	}
	op, _, err := s.CreateOperation(ctx, testOperation("a"), AuditRecord{Operation: "burn_key", Result: "requested"})
	if err != nil || !op.CreatedAt.Equal(t0) {
		t.Fatalf("%+v %v", op, err)
	}
	if _, _, err := s.CreateOperation(ctx, testOperation("a"), AuditRecord{}); !errors.Is(err, ErrExists) {
		t.Errorf("duplicate id: %v", err)
	}
	if _, _, err := s.Operation(ctx, "nope"); !errors.Is(err, ErrNotFound) {
		t.Errorf("unknown: %v", err)
	}
	// A signature, then the application with its effect, in two updates.
	_, sigs, err := s.UpdateOperation(ctx, "a", func(snap OperationSnapshot) (OperationUpdate, error) {
		if len(snap.Roster) != 1 || snap.Operation.State != "pending" {
			t.Errorf("snapshot %+v", snap)
		}
		return OperationUpdate{AddSignature: &OperationSignature{Statement: "jws", Kind: "approval", Serial: 1, Admin: "admin", Role: "sysadmin"},
			Audit: []AuditRecord{{Operation: "burn_key", Result: "signed"}}}, nil
	})
	if err != nil || len(sigs) != 1 || sigs[0].Seq != 1 {
		t.Fatalf("%+v %v", sigs, err)
	}
	op, sigs, err = s.UpdateOperation(ctx, "a", func(snap OperationSnapshot) (OperationUpdate, error) {
		return OperationUpdate{State: "applied", Effect: &Effect{BurnSerial: 1}, EffectText: "burned"}, nil
	})
	if err != nil || op.State != "applied" || op.AppliedAt.IsZero() || op.Effect != "burned" || len(sigs) != 1 {
		t.Fatalf("%+v %v", op, err)
	}
	if e, _ := s.RosterEntry(ctx, 1); !e.Burned {
		t.Error("the effect did not burn the key")
	}
	// A failing effect writes nothing.
	if _, _, err := s.CreateOperation(ctx, testOperation("b"), AuditRecord{}); err != nil {
		t.Fatal(err)
	}
	head, _ := s.VerifyAudit(ctx)
	_, _, err = s.UpdateOperation(ctx, "b", func(OperationSnapshot) (OperationUpdate, error) {
		return OperationUpdate{State: "applied", Effect: &Effect{DeviceID: "nope", DeviceStatus: StatusWiped},
			Audit: []AuditRecord{{Operation: "remote_wipe", Result: "applied"}}}, nil
	})
	if !errors.Is(err, ErrNotFound) {
		t.Errorf("effect on an unknown device: %v", err)
	}
	if op, _, _ := s.Operation(ctx, "b"); op.State != "pending" {
		t.Errorf("state %s after a failed effect", op.State)
	}
	if h, _ := s.VerifyAudit(ctx); h.Seq != head.Seq {
		t.Error("a failed update appended audit entries")
	}
	for states, want := range map[string]int{"": 2, "pending": 1, "applied": 1, "staged": 0} {
		var st []string
		if states != "" {
			st = []string{states}
		}
		ops, err := s.Operations(ctx, st, 10)
		if err != nil || len(ops) != want {
			t.Errorf("states %q: %d operations, %v; want %d", states, len(ops), err, want)
		}
	}
	if _, _, err := s.CurrentPolicy(ctx); !errors.Is(err, ErrNotFound) {
		t.Errorf("no policy yet: %v", err)
	}
	if _, _, err := s.UpdateOperation(ctx, "b", func(OperationSnapshot) (OperationUpdate, error) {
		return OperationUpdate{State: "applied", Effect: &Effect{PolicyDocument: "roles: []", PolicySHA256: "abc"}}, nil
	}); err != nil {
		t.Fatal(err)
	}
	if doc, sum, err := s.CurrentPolicy(ctx); err != nil || doc != "roles: []" || sum != "abc" {
		t.Errorf("policy %q %q %v", doc, sum, err)
	}
}

// TestUpdateOperationSerialized checks that concurrent updates of one
// operation see each other: exactly one applies it.
func TestUpdateOperationSerialized(t *testing.T) {
	ctx := context.Background()
	s, _ := openTest(t)
	if _, _, err := s.CreateOperation(ctx, testOperation("a"), AuditRecord{}); err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	applied := 0
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			_, _, err := s.UpdateOperation(ctx, "a", func(snap OperationSnapshot) (OperationUpdate, error) {
				if snap.Operation.State == "applied" {
					return OperationUpdate{}, nil
				}
				mu.Lock()
				applied++
				mu.Unlock()
				return OperationUpdate{State: "applied"}, nil
			})
			if err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	if applied != 1 {
		t.Errorf("applied %d times", applied)
	}
}
