package store

import (
	"context"
	"errors"
	"testing"
)

func TestDiskEscrows(t *testing.T) {
	ctx := context.Background()
	s, _ := openTest(t)
	if err := s.AddRosterEntry(ctx, admin(10)); err != nil {
		t.Fatal(err)
	}
	d1, err := s.CreateDevice(ctx, device("hw1"))
	if err != nil {
		t.Fatal(err)
	}
	d2, err := s.CreateDevice(ctx, device("hw2"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.CurrentDiskEscrow(ctx, d1.ID); !errors.Is(err, ErrNotFound) {
		t.Fatalf("no escrow yet: %v", err)
	}
	e1 := DiskEscrow{ID: "esc-1", DeviceID: d1.ID, Volume: "uuid-1", KeySlot: 1, Sealed: "kse1.a", EscrowedAt: t0}
	if got, err := s.AddDiskEscrow(ctx, e1); err != nil || got.ID != "esc-1" {
		t.Fatalf("add: %+v %v", got, err)
	}
	// The same sealed key again: the stored row, not a new one.
	again := e1
	again.ID = "esc-other"
	if got, err := s.AddDiskEscrow(ctx, again); err != nil || got.ID != "esc-1" {
		t.Fatalf("re-post: %+v %v", got, err)
	}
	other := e1
	other.ID, other.DeviceID = "esc-x", d2.ID
	if _, err := s.AddDiskEscrow(ctx, other); !errors.Is(err, ErrExists) {
		t.Errorf("another device's sealed key: %v", err)
	}
	if _, err := s.AddDiskEscrow(ctx, DiskEscrow{ID: "esc-y", DeviceID: "nope", Volume: "v", Sealed: "kse1.y", EscrowedAt: t0}); !errors.Is(err, ErrNotFound) {
		t.Errorf("unknown device: %v", err)
	}
	if _, err := s.AddDiskEscrow(ctx, DiskEscrow{ID: "esc-z", DeviceID: d1.ID, Volume: "v", Sealed: "kse1.z", Replaces: "esc-nope", EscrowedAt: t0}); !errors.Is(err, ErrNotFound) {
		t.Errorf("unknown replaced escrow: %v", err)
	}

	// A read_recovery_key applied: the escrow is marked read and the release stored.
	if err := s.AddRosterEntry(ctx, admin(1)); err != nil {
		t.Fatal(err)
	}
	op := testOperation("read-1")
	op.Operation = "read_recovery_key"
	if _, _, err := s.CreateOperation(ctx, op, AuditRecord{Operation: op.Operation, Result: "requested"}); err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.UpdateOperation(ctx, "read-1", func(OperationSnapshot) (OperationUpdate, error) {
		return OperationUpdate{State: "applied", Effect: &Effect{EscrowRelease: &EscrowRelease{EscrowID: "esc-1", Sealed: "ksr1.r"}}}, nil
	}); err != nil {
		t.Fatal(err)
	}
	cur, err := s.CurrentDiskEscrow(ctx, d1.ID)
	if err != nil || cur.ReadAt.IsZero() || cur.ReadOperation != "read-1" {
		t.Fatalf("current after the read: %+v %v", cur, err)
	}
	rel, err := s.EscrowRelease(ctx, "read-1")
	if err != nil || rel.EscrowID != "esc-1" || rel.Sealed != "ksr1.r" {
		t.Fatalf("release %+v %v", rel, err)
	}
	// A release of an unknown escrow fails the whole update.
	op2 := testOperation("read-2")
	op2.Operation = "read_recovery_key"
	if _, _, err := s.CreateOperation(ctx, op2, AuditRecord{Operation: op2.Operation, Result: "requested"}); err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.UpdateOperation(ctx, "read-2", func(OperationSnapshot) (OperationUpdate, error) {
		return OperationUpdate{State: "applied", Effect: &Effect{EscrowRelease: &EscrowRelease{EscrowID: "esc-nope", Sealed: "ksr1.r"}}}, nil
	}); !errors.Is(err, ErrNotFound) {
		t.Errorf("release of an unknown escrow: %v", err)
	}
	if o, _, _ := s.Operation(ctx, "read-2"); o.State != "pending" {
		t.Errorf("operation %s after a failed release", o.State)
	}

	// The rotated key replaces the read one and becomes current.
	e2 := DiskEscrow{ID: "esc-2", DeviceID: d1.ID, Volume: "uuid-1", KeySlot: 2, Sealed: "kse1.b", Replaces: "esc-1", EscrowedAt: t0}
	if _, err := s.AddDiskEscrow(ctx, e2); err != nil {
		t.Fatal(err)
	}
	if cur, err := s.CurrentDiskEscrow(ctx, d1.ID); err != nil || cur.ID != "esc-2" || !cur.ReadAt.IsZero() || cur.Replaces != "esc-1" {
		t.Fatalf("current after rotation: %+v %v", cur, err)
	}
}
