package store

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// hash is a made-up token hash whose id is n in hex.
func hash(n int) string { return fmt.Sprintf("%012x", n) + strings.Repeat("0", 52) }

func token(n int, serial string, expires time.Time) BootstrapToken {
	return BootstrapToken{SHA256: hash(n), Tenant: "acme", HardwareSerial: serial, ExpiresAt: expires}
}

func claimed(fp, tokenID string) Device {
	d := device(fp)
	d.ID, d.EnrolledBy, d.ClaimedWith = "d-"+fp, 0, tokenID
	return d
}

func TestBootstrapTokens(t *testing.T) {
	ctx := context.Background()
	s, _ := openTest(t)
	rec := AuditRecord{Operation: "bootstrap_token_create", Result: "accepted"}
	var ids []string
	for i, serial := range []string{"SER1", "SER2", "SER3", "SER4"} {
		tk, e, err := s.CreateBootstrapToken(ctx, token(i+1, serial, t0.Add(time.Hour)), rec)
		if err != nil || e.Seq != int64(i+1) || tk.ID != fmt.Sprintf("%012x", i+1) {
			t.Fatalf("create %d: %+v, %+v, %v", i, tk, e, err)
		}
		ids = append(ids, tk.ID)
	}
	if _, _, err := s.CreateBootstrapToken(ctx, token(1, "SER9", t0.Add(time.Hour)), rec); !errors.Is(err, ErrExists) {
		t.Fatalf("duplicate hash: %v", err)
	}
	// Claim with token 1.
	d, e, err := s.CompleteClaim(ctx, hash(1), t0, claimed("hw1", ids[0]), AuditRecord{Operation: "claim_device", Result: "accepted"})
	if err != nil || d.ClaimedWith != ids[0] || d.EnrolledBy != 0 || e.Seq != 5 {
		t.Fatalf("claim: %+v, %+v, %v", d, e, err)
	}
	got, err := s.DeviceByID(ctx, "d-hw1")
	if err != nil || got.ClaimedWith != ids[0] || got.EnrolledBy != 0 {
		t.Fatalf("claimed device = %+v, %v", got, err)
	}
	// Revoke token 2, expire token 3 by the clock.
	if _, err := s.RevokeBootstrapToken(ctx, ids[1], t0, AuditRecord{Operation: "bootstrap_token_revoke", Result: "accepted"}); err != nil {
		t.Fatal(err)
	}
	for name, c := range map[string]struct {
		id   string
		n    int
		at   time.Time
		want error
	}{
		"used":    {ids[0], 1, t0, ErrTokenUsed},
		"revoked": {ids[1], 2, t0, ErrTokenRevoked},
		"expired": {ids[2], 3, t0.Add(time.Hour), ErrTokenExpired},
		"unknown": {"x", 99, t0, ErrNotFound},
	} {
		t.Run(name, func(t *testing.T) {
			before, _ := s.VerifyAudit(ctx)
			if _, _, err := s.CompleteClaim(ctx, hash(c.n), c.at, claimed("hw-"+name, c.id), AuditRecord{Operation: "claim_device"}); !errors.Is(err, c.want) {
				t.Fatalf("err = %v, want %v", err, c.want)
			}
			if after, _ := s.VerifyAudit(ctx); after != before {
				t.Fatal("a refused claim wrote an audit entry")
			}
			if _, err := s.DeviceByID(ctx, "d-hw-"+name); !errors.Is(err, ErrNotFound) {
				t.Fatalf("a refused claim created a device: %v", err)
			}
		})
	}
	if _, err := s.RevokeBootstrapToken(ctx, ids[0], t0, rec); !errors.Is(err, ErrTokenUsed) {
		t.Fatalf("revoking a used token: %v", err)
	}
	if _, err := s.RevokeBootstrapToken(ctx, ids[1], t0, rec); !errors.Is(err, ErrTokenRevoked) {
		t.Fatalf("revoking twice: %v", err)
	}
	if _, err := s.RevokeBootstrapToken(ctx, "nope", t0, rec); !errors.Is(err, ErrNotFound) {
		t.Fatalf("revoking an unknown token: %v", err)
	}
	all, err := s.BootstrapTokens(ctx)
	if err != nil || len(all) != 4 {
		t.Fatalf("tokens = %+v, %v", all, err)
	}
	var states []string
	for _, tk := range all {
		states = append(states, tk.State(t0.Add(time.Hour)))
	}
	if strings.Join(states, ",") != "used,revoked,expired,expired" || all[0].DeviceID != "d-hw1" {
		t.Fatalf("states = %v, %+v", states, all)
	}
	if tk, err := s.BootstrapTokenByHash(ctx, hash(4)); err != nil || tk.HardwareSerial != "SER4" || tk.State(t0) != "outstanding" {
		t.Fatalf("by hash: %+v, %v", tk, err)
	}
	if _, err := s.VerifyAudit(ctx); err != nil {
		t.Fatal(err)
	}
}

func TestCompleteClaimConcurrent(t *testing.T) {
	ctx := context.Background()
	s, _ := openTest(t)
	tk, _, err := s.CreateBootstrapToken(ctx, token(7, "SER7", t0.Add(time.Hour)), AuditRecord{Operation: "bootstrap_token_create"})
	if err != nil {
		t.Fatal(err)
	}
	const workers = 8
	var wins, used atomic.Int32
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := 0; i < workers; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			_, _, err := s.CompleteClaim(ctx, tk.SHA256, t0, claimed(fmt.Sprintf("hw%d", i), tk.ID), AuditRecord{Operation: "claim_device"})
			switch {
			case err == nil:
				wins.Add(1)
			case errors.Is(err, ErrTokenUsed):
				used.Add(1)
			default:
				t.Errorf("unexpected error: %v", err)
			}
		}()
	}
	close(start)
	wg.Wait()
	if wins.Load() != 1 || used.Load() != workers-1 {
		t.Fatalf("%d winners and %d ErrTokenUsed, want 1 and %d", wins.Load(), used.Load(), workers-1)
	}
}
