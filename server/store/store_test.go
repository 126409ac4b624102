package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

var t0 = time.Date(2026, 11, 28, 12, 0, 0, 0, time.UTC)

func openTest(t testing.TB) (*SQLite, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "store.db")
	s, err := Open(context.Background(), path, WithClock(func() time.Time { return t0 }))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s, path
}

func rawDB(t testing.TB, path string) *sql.DB {
	t.Helper()
	db, err := sql.Open("sqlite", "file:"+path+"?_pragma=busy_timeout(5000)")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func admin(serial uint32) RosterEntry {
	return RosterEntry{Serial: serial, Admin: "admin", Role: "sysadmin", SPKISHA256: fmt.Sprintf("%064x", serial),
		Attestation: []byte("-----BEGIN CERTIFICATE-----\n...")}
}

func TestMigrations(t *testing.T) {
	ctx := context.Background()
	s, path := openTest(t)
	ms, err := migrations()
	if err != nil {
		t.Fatal(err)
	}
	v, err := s.SchemaVersion(ctx)
	if err != nil || v != len(ms) || v < 1 {
		t.Fatalf("version = %d, %v; want %d", v, err, len(ms))
	}
	if err := s.AddRosterEntry(ctx, admin(1)); err != nil {
		t.Fatal(err)
	}
	s.Close()
	for i := 0; i < 2; i++ {
		s2, err := Open(ctx, path)
		if err != nil {
			t.Fatalf("re-open %d: %v", i, err)
		}
		if v, err := s2.SchemaVersion(ctx); err != nil || v != len(ms) {
			t.Fatalf("version after re-open = %d, %v", v, err)
		}
		if _, err := s2.RosterEntry(ctx, 1); err != nil {
			t.Fatalf("data lost on re-open: %v", err)
		}
		var rows int
		if err := s2.db.QueryRowContext(ctx, "SELECT COUNT(*) FROM schema_version").Scan(&rows); err != nil || rows != len(ms) {
			t.Fatalf("schema_version rows = %d, %v", rows, err)
		}
		s2.Close()
	}
	db := rawDB(t, path)
	var mode string
	if err := db.QueryRow("PRAGMA journal_mode").Scan(&mode); err != nil || mode != "wal" {
		t.Fatalf("journal_mode = %q, %v", mode, err)
	}
	if _, err := db.Exec("INSERT INTO schema_version (version, name, applied_at) VALUES (999, 'future', 'x')"); err != nil {
		t.Fatal(err)
	}
	if _, err := Open(ctx, path); err == nil {
		t.Fatal("opened a database with a newer schema")
	}
}

func TestRoster(t *testing.T) {
	ctx := context.Background()
	s, _ := openTest(t)
	if err := s.AddRosterEntry(ctx, admin(10)); err != nil {
		t.Fatal(err)
	}
	if err := s.AddRosterEntry(ctx, admin(10)); !errors.Is(err, ErrExists) {
		t.Fatalf("duplicate serial: err = %v, want ErrExists", err)
	}
	dupKey := admin(11)
	dupKey.SPKISHA256 = admin(10).SPKISHA256
	if err := s.AddRosterEntry(ctx, dupKey); !errors.Is(err, ErrExists) {
		t.Fatalf("duplicate key: err = %v, want ErrExists", err)
	}
	if _, err := s.RosterEntry(ctx, 11); !errors.Is(err, ErrNotFound) {
		t.Fatalf("missing entry: err = %v, want ErrNotFound", err)
	}
	if err := s.BurnKey(ctx, 11, t0); !errors.Is(err, ErrNotFound) {
		t.Fatalf("burn missing: err = %v, want ErrNotFound", err)
	}
	e, err := s.RosterEntry(ctx, 10)
	if err != nil || e.Burned || !e.BurnedAt.IsZero() || !e.AddedAt.Equal(t0) || e.Role != "sysadmin" {
		t.Fatalf("entry = %+v, %v", e, err)
	}
	burn := t0.Add(time.Hour)
	if err := s.BurnKey(ctx, 10, burn); err != nil {
		t.Fatal(err)
	}
	if err := s.BurnKey(ctx, 10, burn.Add(time.Hour)); err != nil {
		t.Fatalf("burning again: %v", err)
	}
	e, err = s.RosterEntry(ctx, 10)
	if err != nil || !e.Burned || !e.BurnedAt.Equal(burn) {
		t.Fatalf("burned entry = %+v, %v; want burned at %v", e, err, burn)
	}
	if err := s.AddRosterEntry(ctx, admin(12)); err != nil {
		t.Fatal(err)
	}
	all, err := s.RosterEntries(ctx)
	if err != nil || len(all) != 2 || all[0].Serial != 10 || all[1].Serial != 12 || all[1].Burned {
		t.Fatalf("entries = %+v, %v", all, err)
	}
}

func TestNonces(t *testing.T) {
	ctx := context.Background()
	s, _ := openTest(t)
	n := Nonce{Value: "n1", Operation: "enroll_device", Digest: "d", ExpiresAt: t0.Add(5 * time.Minute)}
	if err := s.IssueNonce(ctx, n); err != nil {
		t.Fatal(err)
	}
	if err := s.IssueNonce(ctx, n); !errors.Is(err, ErrExists) {
		t.Fatalf("duplicate nonce: err = %v", err)
	}
	if _, err := s.ConsumeNonce(ctx, "nope", t0); !errors.Is(err, ErrNotFound) {
		t.Fatalf("unknown nonce: err = %v", err)
	}
	if err := s.IssueNonce(ctx, Nonce{Value: "old", Operation: "x", ExpiresAt: t0}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.ConsumeNonce(ctx, "old", t0); !errors.Is(err, ErrNonceExpired) {
		t.Fatalf("expired nonce: err = %v", err)
	}
	got, err := s.ConsumeNonce(ctx, "n1", t0.Add(time.Minute))
	if err != nil || got.Digest != "d" || got.Operation != "enroll_device" || !got.UsedAt.Equal(t0.Add(time.Minute)) {
		t.Fatalf("consume = %+v, %v", got, err)
	}
	if _, err := s.ConsumeNonce(ctx, "n1", t0.Add(time.Minute)); !errors.Is(err, ErrNonceUsed) {
		t.Fatalf("second consume: err = %v", err)
	}
	if l, err := s.LookupNonce(ctx, "n1"); err != nil || l.UsedAt.IsZero() {
		t.Fatalf("lookup = %+v, %v", l, err)
	}
}

func TestConsumeNonceConcurrent(t *testing.T) {
	ctx := context.Background()
	s, path := openTest(t)
	// A second handle on the same file stands in for another process.
	other, err := Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	const rounds, workers = 5, 16
	for r := 0; r < rounds; r++ {
		value := fmt.Sprintf("nonce-%d", r)
		if err := s.IssueNonce(ctx, Nonce{Value: value, Operation: "enroll_device", ExpiresAt: t0.Add(time.Hour)}); err != nil {
			t.Fatal(err)
		}
		var wins, used atomic.Int32
		var wg sync.WaitGroup
		start := make(chan struct{})
		for w := 0; w < workers; w++ {
			st := s
			if w%2 == 1 {
				st = other
			}
			wg.Go(func() {
				<-start
				_, err := st.ConsumeNonce(ctx, value, t0)
				switch {
				case err == nil:
					wins.Add(1)
				case errors.Is(err, ErrNonceUsed):
					used.Add(1)
				default:
					t.Errorf("unexpected error: %v", err)
				}
			})
		}
		close(start)
		wg.Wait()
		if wins.Load() != 1 || used.Load() != workers-1 {
			t.Fatalf("round %d: %d winners and %d ErrNonceUsed, want 1 and %d", r, wins.Load(), used.Load(), workers-1)
		}
	}
}

func device(fp string) Device {
	return Device{Tenant: "acme", HardwareFingerprint: fp, WireGuardPublicKey: "wg-" + fp, EnrolledBy: 10,
		Certificates: []DeviceCertificate{{Serial: "ab" + fp, NotAfter: t0.Add(24 * time.Hour)}}}
}

func TestDevices(t *testing.T) {
	ctx := context.Background()
	s, _ := openTest(t)
	if _, err := s.CreateDevice(ctx, device("hw1")); !errors.Is(err, ErrNotFound) {
		t.Fatalf("device enrolled by unknown key: err = %v, want ErrNotFound", err)
	}
	if err := s.AddRosterEntry(ctx, admin(10)); err != nil {
		t.Fatal(err)
	}
	d, err := s.CreateDevice(ctx, device("hw1"))
	if err != nil {
		t.Fatal(err)
	}
	if len(d.ID) != 34 || d.Status != StatusActive || !d.CreatedAt.Equal(t0) {
		t.Fatalf("device = %+v", d)
	}
	got, err := s.DeviceByFingerprint(ctx, "hw1")
	if err != nil || got.ID != d.ID || len(got.Certificates) != 1 || got.Certificates[0].Serial != "abhw1" || got.EnrolledBy != 10 {
		t.Fatalf("device = %+v, %v", got, err)
	}
	for name, dup := range map[string]Device{
		"fingerprint": {Tenant: "acme", HardwareFingerprint: "hw1", WireGuardPublicKey: "other", EnrolledBy: 10},
		"wireguard":   {Tenant: "acme", HardwareFingerprint: "hw2", WireGuardPublicKey: "wg-hw1", EnrolledBy: 10},
		"id":          {ID: d.ID, Tenant: "acme", HardwareFingerprint: "hw3", WireGuardPublicKey: "wg3", EnrolledBy: 10},
		"certificate": {Tenant: "acme", HardwareFingerprint: "hw4", WireGuardPublicKey: "wg4", EnrolledBy: 10, Certificates: device("hw1").Certificates},
	} {
		if _, err := s.CreateDevice(ctx, dup); !errors.Is(err, ErrExists) {
			t.Errorf("duplicate %s: err = %v, want ErrExists", name, err)
		}
	}
	// The failed certificate insert must have rolled back its device row.
	if _, err := s.DeviceByFingerprint(ctx, "hw4"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("partial device written: err = %v", err)
	}
}

func TestCompleteEnrollmentAtomic(t *testing.T) {
	ctx := context.Background()
	s, _ := openTest(t)
	if err := s.AddRosterEntry(ctx, admin(10)); err != nil {
		t.Fatal(err)
	}
	if _, err := s.CreateDevice(ctx, device("taken")); err != nil {
		t.Fatal(err)
	}
	if err := s.IssueNonce(ctx, Nonce{Value: "n", Operation: "enroll_device", ExpiresAt: t0.Add(time.Hour)}); err != nil {
		t.Fatal(err)
	}
	ok := AuditRecord{Actor: 10, Operation: "enroll_device", Result: "accepted"}
	// Fingerprint already enrolled: the whole transaction rolls back.
	if _, _, err := s.CompleteEnrollment(ctx, "n", t0, device("taken"), ok); !errors.Is(err, ErrExists) {
		t.Fatalf("err = %v, want ErrExists", err)
	}
	if n, err := s.LookupNonce(ctx, "n"); err != nil || !n.UsedAt.IsZero() {
		t.Fatalf("nonce consumed by a failed enrollment: %+v, %v", n, err)
	}
	if es, err := s.AuditEntries(ctx, 0, 10); err != nil || len(es) != 0 {
		t.Fatalf("audit written by a failed enrollment: %v, %v", es, err)
	}
	// The caller records the rejection alone.
	if _, err := s.AppendAudit(ctx, AuditRecord{Actor: 10, Operation: "enroll_device", Result: "rejected", Reason: "device_exists"}); err != nil {
		t.Fatal(err)
	}
	d, e, err := s.CompleteEnrollment(ctx, "n", t0, device("new"), ok)
	if err != nil || e.Seq != 2 || d.ID == "" {
		t.Fatalf("enrollment = %+v, %+v, %v", d, e, err)
	}
	if _, _, err := s.CompleteEnrollment(ctx, "n", t0, device("new2"), ok); !errors.Is(err, ErrNonceUsed) {
		t.Fatalf("replay: err = %v, want ErrNonceUsed", err)
	}
	if _, err := s.DeviceByFingerprint(ctx, "new2"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("replayed enrollment wrote a device: %v", err)
	}
}

func fillAudit(t *testing.T, s *SQLite, n int) {
	t.Helper()
	for i := 0; i < n; i++ {
		_, err := s.AppendAudit(context.Background(), AuditRecord{Time: t0.Add(time.Duration(i) * time.Second), Actor: uint32(10 + i),
			Operation: "enroll_device", ParamsDigest: fmt.Sprintf("digest-%d", i), Result: "accepted"})
		if err != nil {
			t.Fatal(err)
		}
	}
}

func TestAuditChain(t *testing.T) {
	ctx := context.Background()
	s, _ := openTest(t)
	head, err := s.VerifyAudit(ctx)
	if err != nil || head.Seq != 0 || head.Hash != GenesisHash {
		t.Fatalf("empty head = %+v, %v", head, err)
	}
	fillAudit(t, s, 5)
	head, err = s.VerifyAudit(ctx)
	if err != nil || head.Seq != 5 {
		t.Fatalf("head = %+v, %v", head, err)
	}
	es, err := s.AuditEntries(ctx, 2, 2)
	if err != nil || len(es) != 2 || es[0].Seq != 3 || es[1].PrevHash != es[0].Hash || es[0].Actor != 12 {
		t.Fatalf("entries = %+v, %v", es, err)
	}

	for _, tc := range []struct {
		name    string
		tamper  []string
		wantSeq int64
	}{
		{"edited result", []string{`UPDATE audit SET result = 'rejected' WHERE seq = 3`}, 3},
		{"edited time", []string{`UPDATE audit SET time = '2026-11-28T11:00:00.000000000Z' WHERE seq = 2`}, 2},
		{"edited and rehashed", []string{`UPDATE audit SET actor = 99, hash = 'f' || substr(hash, 2) WHERE seq = 2`}, 2},
		{"removed middle", []string{`DELETE FROM audit WHERE seq = 3`}, 3},
		{"removed last", []string{`DELETE FROM audit WHERE seq = 5`}, 5},
		{"removed first", []string{`DELETE FROM audit WHERE seq = 1`}, 1},
		{"reordered", []string{
			`UPDATE audit SET seq = 100 WHERE seq = 2`,
			`UPDATE audit SET seq = 2 WHERE seq = 3`,
			`UPDATE audit SET seq = 3 WHERE seq = 100`,
		}, 2},
		{"swapped contents", []string{
			`UPDATE audit SET actor = CASE seq WHEN 2 THEN 13 ELSE 12 END, params_digest = CASE seq WHEN 2 THEN 'digest-2' ELSE 'digest-1' END WHERE seq IN (2, 3)`,
		}, 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, path := openTest(t)
			fillAudit(t, s, 5)
			db := rawDB(t, path)
			for _, q := range tc.tamper {
				if _, err := db.Exec(q); err != nil {
					t.Fatal(err)
				}
			}
			_, err := s.VerifyAudit(ctx)
			var ae *AuditError
			if !errors.Is(err, ErrAuditBroken) || !errors.As(err, &ae) {
				t.Fatalf("err = %v, want ErrAuditBroken", err)
			}
			if ae.Seq != tc.wantSeq {
				t.Fatalf("first bad entry = %d (%s), want %d", ae.Seq, ae.Problem, tc.wantSeq)
			}
			// Appending to a truncated log must not paper over the gap.
			if tc.name == "removed last" {
				if _, err := s.AppendAudit(ctx, AuditRecord{Operation: "x", Result: "accepted"}); !errors.Is(err, ErrAuditBroken) {
					t.Fatalf("append after truncation: err = %v", err)
				}
			}
		})
	}
}

func TestAuditConcurrentAppend(t *testing.T) {
	ctx := context.Background()
	s, _ := openTest(t)
	var wg sync.WaitGroup
	for w := 0; w < 8; w++ {
		wg.Go(func() {
			for i := 0; i < 10; i++ {
				if _, err := s.AppendAudit(ctx, AuditRecord{Actor: uint32(w), Operation: "op", Result: "accepted"}); err != nil {
					t.Error(err)
				}
			}
		})
	}
	wg.Wait()
	head, err := s.VerifyAudit(ctx)
	if err != nil || head.Seq != 80 {
		t.Fatalf("head = %+v, %v", head, err)
	}
}

func BenchmarkAppendAudit(b *testing.B) {
	s, _ := openTest(b)
	ctx := context.Background()
	rec := AuditRecord{Actor: 10, Operation: "enroll_device", ParamsDigest: "digest", Result: "accepted"}
	for b.Loop() {
		if _, err := s.AppendAudit(ctx, rec); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkConsumeNonce(b *testing.B) {
	s, _ := openTest(b)
	ctx := context.Background()
	var values []string
	for i := 0; i < b.N; i++ {
		v := fmt.Sprintf("nonce-%d", i)
		if err := s.IssueNonce(ctx, Nonce{Value: v, Operation: "enroll_device", ExpiresAt: t0.Add(time.Hour)}); err != nil {
			b.Fatal(err)
		}
		values = append(values, v)
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := s.ConsumeNonce(ctx, values[i], t0); err != nil {
			b.Fatal(err)
		}
	}
}
