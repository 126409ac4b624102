package store

import (
	"context"
	"errors"
	"testing"
	"time"
)

func TestTrustList(t *testing.T) {
	ctx := context.Background()
	s, _ := openTest(t)
	cert := TrustEntry{ID: "aaaa", Kind: TrustKindCertificate, PEM: "pem-a", DERSHA256: "aaaa-sha", AddedBy: "operator", Note: "ticket 1"}
	ca := TrustEntry{ID: "bbbb", Kind: TrustKindCA, PEM: "pem-b", DERSHA256: "bbbb-sha", AddedBy: "operator"}
	signer := RosterEntry{Serial: 1<<31 | 1, Admin: "Ada", Role: "founder", SPKISHA256: "11"}
	rec := AuditRecord{Operation: "trust_add", Result: "accepted"}
	if _, err := s.AddTrustEntry(ctx, cert, &signer, rec); err != nil {
		t.Fatal(err)
	}
	if _, err := s.AddTrustEntry(ctx, ca, nil, rec); err != nil {
		t.Fatal(err)
	}
	if _, err := s.AddTrustEntry(ctx, cert, &signer, rec); !errors.Is(err, ErrExists) {
		t.Errorf("adding twice: %v", err)
	}
	got, err := s.TrustEntries(ctx)
	if err != nil || len(got) != 2 || got[0].ID != "aaaa" || got[0].Note != "ticket 1" || got[1].Kind != TrustKindCA || got[0].AddedAt.IsZero() {
		t.Fatalf("entries %+v, %v", got, err)
	}
	// A signer of the CA entry is registered once; a second call keeps it.
	issued := RosterEntry{Serial: 1<<31 | 2, Admin: "Bob", Role: "sysadmin", SPKISHA256: "22"}
	for range 2 {
		if err := s.RegisterTrustSigner(ctx, "bbbb", issued); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.RegisterTrustSigner(ctx, "bbbb", RosterEntry{Serial: 1<<31 | 3, Admin: "Eve", Role: "founder", SPKISHA256: "22"}); !errors.Is(err, ErrExists) {
		t.Errorf("a known key under another serial: %v", err)
	}
	if err := s.RegisterTrustSigner(ctx, "cccc", RosterEntry{Serial: 1<<31 | 4, Admin: "Eve", Role: "founder", SPKISHA256: "44"}); !errors.Is(err, ErrNotFound) {
		t.Errorf("an unknown entry: %v", err)
	}
	burned, err := s.RemoveTrustEntry(ctx, "bbbb", time.Now(), AuditRecord{Operation: "trust_remove", Result: "accepted"})
	if err != nil || len(burned) != 1 || burned[0] != issued.Serial {
		t.Fatalf("remove: %v, %v", burned, err)
	}
	if r, err := s.RosterEntry(ctx, issued.Serial); err != nil || !r.Burned {
		t.Errorf("signer after removal: %+v, %v", r, err)
	}
	if r, err := s.RosterEntry(ctx, signer.Serial); err != nil || r.Burned {
		t.Errorf("the other entry's signer: %+v, %v", r, err)
	}
	if _, err := s.RemoveTrustEntry(ctx, "bbbb", time.Now(), AuditRecord{Operation: "trust_remove", Result: "accepted"}); !errors.Is(err, ErrNotFound) {
		t.Errorf("removing twice: %v", err)
	}
	if err := s.RegisterTrustSigner(ctx, "bbbb", RosterEntry{Serial: 1<<31 | 5, Admin: "Cy", Role: "founder", SPKISHA256: "55"}); !errors.Is(err, ErrNotFound) {
		t.Errorf("registering under a removed entry: %v", err)
	}
	entries, err := s.AuditEntries(ctx, 0, 10)
	if err != nil || len(entries) != 3 {
		t.Errorf("audit: %d entries, %v; want 3 (two adds, one removal)", len(entries), err)
	}
	if _, err := s.VerifyAudit(ctx); err != nil {
		t.Error(err)
	}
}
