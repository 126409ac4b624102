package store

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// withUpTo stops migrations after version v, to build an older database.
func withUpTo(v int) Option { return func(s *SQLite) { s.upTo = v } }

// openV1 creates a database with only migration 0001 applied.
func openV1(t *testing.T) (*SQLite, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "v1.db")
	s, err := Open(context.Background(), path, WithClock(func() time.Time { return t0 }), withUpTo(1))
	if err != nil {
		t.Fatal(err)
	}
	if v, err := s.SchemaVersion(context.Background()); err != nil || v != 1 {
		t.Fatalf("version = %d, %v; want 1", v, err)
	}
	return s, path
}

func TestMigrationRebuildsDevices(t *testing.T) {
	ctx := context.Background()
	v1, path := openV1(t)
	for _, serial := range []uint32{10, 11} {
		if err := v1.AddRosterEntry(ctx, admin(serial)); err != nil {
			t.Fatal(err)
		}
	}
	var ids []string
	for i, fp := range []string{"hw1", "hw2", "hw3"} {
		d := device(fp)
		d.CreatedAt = t0.Add(time.Duration(i) * time.Minute)
		d.Certificates = append(d.Certificates, DeviceCertificate{Serial: "cd" + fp, NotAfter: t0.Add(48 * time.Hour), IssuedAt: t0.Add(time.Hour)})
		if i == 2 {
			d.Status, d.EnrolledBy = StatusLocked, 11
		}
		created, err := v1.CreateDevice(ctx, d)
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, created.ID)
	}
	fillAudit(t, v1, 4)
	if err := v1.IssueNonce(ctx, Nonce{Value: "n1", Operation: "enroll_device", Digest: "d", ExpiresAt: t0.Add(time.Hour)}); err != nil {
		t.Fatal(err)
	}
	headV1, err := v1.VerifyAudit(ctx)
	if err != nil {
		t.Fatal(err)
	}
	v1.Close()

	s, err := Open(ctx, path, WithClock(func() time.Time { return t0 }))
	if err != nil {
		t.Fatalf("migrating a v1 database: %v", err)
	}
	defer s.Close()
	ms, _ := migrations()
	if v, err := s.SchemaVersion(ctx); err != nil || v != len(ms) {
		t.Fatalf("version = %d, %v; want %d", v, err, len(ms))
	}
	// Every row is still there.
	all, err := s.Devices(ctx)
	if err != nil || len(all) != 3 {
		t.Fatalf("devices = %+v, %v", all, err)
	}
	for i, d := range all {
		fp := fmt.Sprintf("hw%d", i+1)
		if d.ID != ids[i] || d.HardwareFingerprint != fp || d.WireGuardPublicKey != "wg-"+fp || len(d.Certificates) != 2 ||
			d.Certificates[0].Serial != "ab"+fp || d.Certificates[1].Serial != "cd"+fp || d.ReplacedBy != "" || d.Replaces != "" {
			t.Errorf("device %d after migration = %+v", i, d)
		}
	}
	if all[2].Status != StatusLocked || all[2].EnrolledBy != 11 || all[0].Status != StatusActive {
		t.Errorf("statuses after migration: %+v", all)
	}
	head, err := s.VerifyAudit(ctx)
	if err != nil || head != headV1 {
		t.Fatalf("audit head %+v, %v; want %+v", head, err, headV1)
	}
	if n, err := s.LookupNonce(ctx, "n1"); err != nil || n.Digest != "d" {
		t.Fatalf("nonce after migration = %+v, %v", n, err)
	}
	if e, err := s.RosterEntry(ctx, 11); err != nil || e.Admin != "admin" {
		t.Fatalf("roster after migration = %+v, %v", e, err)
	}
	// The constraints still hold, on every pooled connection.
	for i := 0; i < 4; i++ {
		var fk int
		if err := s.db.QueryRowContext(ctx, "PRAGMA foreign_keys").Scan(&fk); err != nil || fk != 1 {
			t.Fatalf("foreign_keys = %d, %v after migration", fk, err)
		}
	}
	if _, err := s.CreateDevice(ctx, device("hw1")); !errors.Is(err, ErrExists) {
		t.Errorf("duplicate fingerprint after migration: err = %v, want ErrExists", err)
	}
	dupWG := device("hw9")
	dupWG.WireGuardPublicKey = "wg-hw2"
	if _, err := s.CreateDevice(ctx, dupWG); !errors.Is(err, ErrExists) {
		t.Errorf("duplicate WireGuard key after migration: err = %v, want ErrExists", err)
	}
	unknownAdmin := device("hw8")
	unknownAdmin.EnrolledBy = 99
	if _, err := s.CreateDevice(ctx, unknownAdmin); !errors.Is(err, ErrNotFound) {
		t.Errorf("device of an unknown admin after migration: err = %v, want ErrNotFound", err)
	}
	if _, err := s.db.ExecContext(ctx, `INSERT INTO device_certificates (serial, device_id, not_after, issued_at) VALUES ('ff', 'd-none', 'x', 'x')`); err == nil {
		t.Error("a certificate of a missing device was accepted after migration")
	}
	if _, err := s.db.ExecContext(ctx, `UPDATE devices SET status = 'replaced' WHERE id = ?`, ids[0]); err == nil {
		t.Error("a replaced device without replaced_by was accepted")
	}
	var check string
	if err := s.db.QueryRowContext(ctx, "PRAGMA integrity_check").Scan(&check); err != nil || check != "ok" {
		t.Fatalf("integrity_check = %q, %v", check, err)
	}
	rows, err := s.db.QueryContext(ctx, "PRAGMA foreign_key_check")
	if err != nil {
		t.Fatal(err)
	}
	if rows.Next() {
		t.Error("foreign_key_check reports a violation after migration")
	}
	rows.Close()
	var ddl string
	if err := s.db.QueryRowContext(ctx, `SELECT sql FROM sqlite_schema WHERE name = 'device_certificates'`).Scan(&ddl); err != nil ||
		!strings.Contains(ddl, "REFERENCES devices (id)") {
		t.Errorf("device_certificates no longer references devices: %q, %v", ddl, err)
	}
}

func TestMigrationRebuildRollsBack(t *testing.T) {
	ctx := context.Background()
	v1, path := openV1(t)
	v1.Close()
	// A dangling reference, written with foreign keys off.
	db := rawDB(t, path)
	if _, err := db.Exec(`INSERT INTO device_certificates (serial, device_id, not_after, issued_at) VALUES ('ff', 'd-gone', 'x', 'x')`); err != nil {
		t.Fatal(err)
	}
	db.Close()
	if _, err := Open(ctx, path); err == nil || !strings.Contains(err.Error(), "foreign key check failed") {
		t.Fatalf("migration over a dangling reference: err = %v", err)
	}
	s, err := Open(ctx, path, withUpTo(1))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if v, err := s.SchemaVersion(ctx); err != nil || v != 1 {
		t.Fatalf("version after a failed migration = %d, %v; want 1", v, err)
	}
	var n int
	if err := s.db.QueryRowContext(ctx, `SELECT COUNT(*) FROM sqlite_schema WHERE name IN ('reenrollments', 'devices_new')`).Scan(&n); err != nil || n != 0 {
		t.Fatalf("a failed migration left %d tables, %v", n, err)
	}
}

// reenrollSetup returns a store with admin 10 and the device of hw1, and a
// nonce per name.
func reenrollSetup(t *testing.T, nonces ...string) (*SQLite, Device) {
	t.Helper()
	ctx := context.Background()
	s, _ := openTest(t)
	if err := s.AddRosterEntry(ctx, admin(10)); err != nil {
		t.Fatal(err)
	}
	old, err := s.CreateDevice(ctx, device("hw1"))
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range nonces {
		if err := s.IssueNonce(ctx, Nonce{Value: n, Operation: "enroll_device", ExpiresAt: t0.Add(time.Hour)}); err != nil {
			t.Fatal(err)
		}
	}
	return s, old
}

// replacement is a new device record for hw1 that replaces old.
func replacement(id string, old Device) Device {
	return Device{ID: id, Tenant: "acme", HardwareFingerprint: old.HardwareFingerprint, WireGuardPublicKey: "wg-" + id,
		EnrolledBy: 10, Replaces: old.ID, Certificates: []DeviceCertificate{{Serial: "ee" + id, NotAfter: t0.Add(24 * time.Hour)}}}
}

var reenrolled = AuditRecord{Actor: 10, Operation: "enroll_device", Result: "accepted", Reason: "reenrolled"}

func TestReenrollment(t *testing.T) {
	ctx := context.Background()
	s, old := reenrollSetup(t, "n1", "n2", "n3")
	if err := s.AllowReenrollment(ctx, "d-unknown", 0, t0.Add(time.Hour)); !errors.Is(err, ErrNotFound) {
		t.Fatalf("allowance for an unknown device: err = %v, want ErrNotFound", err)
	}
	if err := s.AllowReenrollment(ctx, old.ID, 0, t0); err == nil {
		t.Fatal("accepted an allowance that is already expired")
	}
	if _, err := s.Reenrollment(ctx, "hw1"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("allowance before one is given: err = %v, want ErrNotFound", err)
	}
	if _, err := s.CreateDevice(ctx, replacement("d-new", old)); err == nil {
		t.Fatal("CreateDevice replaced a device")
	}
	// Without an allowance nothing is written.
	if _, _, err := s.CompleteEnrollment(ctx, "n1", t0, replacement("d-new", old), reenrolled); !errors.Is(err, ErrNotAllowed) {
		t.Fatalf("re-enrollment without allowance: err = %v, want ErrNotAllowed", err)
	}
	if n, err := s.LookupNonce(ctx, "n1"); err != nil || !n.UsedAt.IsZero() {
		t.Fatalf("a refused re-enrollment consumed its nonce: %+v, %v", n, err)
	}
	if err := s.AllowReenrollment(ctx, old.ID, 4242, t0.Add(24*time.Hour)); err != nil {
		t.Fatal(err)
	}
	r, err := s.Reenrollment(ctx, "hw1")
	if err != nil || r.DeviceID != old.ID || r.AllowedBy != 4242 || !r.AllowedAt.Equal(t0) || !r.ExpiresAt.Equal(t0.Add(24*time.Hour)) {
		t.Fatalf("allowance = %+v, %v", r, err)
	}
	// Allowed again: the later allowance replaces the earlier one.
	if err := s.AllowReenrollment(ctx, old.ID, 0, t0.Add(30*time.Minute)); err != nil {
		t.Fatal(err)
	}
	if r, err := s.Reenrollment(ctx, "hw1"); err != nil || r.AllowedBy != 0 || !r.ExpiresAt.Equal(t0.Add(30*time.Minute)) {
		t.Fatalf("allowance = %+v, %v", r, err)
	}
	// The allowance is for old, not for another record.
	wrong := replacement("d-new", old)
	wrong.Replaces = "d-other"
	if _, _, err := s.CompleteEnrollment(ctx, "n1", t0, wrong, reenrolled); !errors.Is(err, ErrNotAllowed) {
		t.Fatalf("re-enrollment replacing another record: err = %v, want ErrNotAllowed", err)
	}
	// Past its expiry it is refused.
	if _, _, err := s.CompleteEnrollment(ctx, "n1", t0.Add(30*time.Minute), replacement("d-new", old), reenrolled); !errors.Is(err, ErrNotAllowed) {
		t.Fatalf("expired allowance: err = %v, want ErrNotAllowed", err)
	}
	now := t0.Add(time.Minute)
	dev, entry, err := s.CompleteEnrollment(ctx, "n1", now, replacement("d-new", old), reenrolled)
	if err != nil {
		t.Fatal(err)
	}
	if dev.ID != "d-new" || dev.Status != StatusActive || entry.Reason != "reenrolled" || entry.Seq != 1 {
		t.Fatalf("re-enrollment = %+v, %+v", dev, entry)
	}
	gotOld, err := s.DeviceByID(ctx, old.ID)
	if err != nil || gotOld.Status != StatusReplaced || gotOld.ReplacedBy != "d-new" || !gotOld.UpdatedAt.Equal(now) ||
		len(gotOld.Certificates) != 1 {
		t.Fatalf("old device = %+v, %v", gotOld, err)
	}
	cur, err := s.DeviceByFingerprint(ctx, "hw1")
	if err != nil || cur.ID != "d-new" || cur.Replaces != old.ID || len(cur.Certificates) != 1 || cur.Certificates[0].Serial != "eed-new" {
		t.Fatalf("current device = %+v, %v", cur, err)
	}
	if _, err := s.Reenrollment(ctx, "hw1"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("allowance not consumed: err = %v", err)
	}
	// One allowance, one re-enrollment.
	if _, _, err := s.CompleteEnrollment(ctx, "n2", now, replacement("d-newer", cur), reenrolled); !errors.Is(err, ErrNotAllowed) {
		t.Fatalf("second use of the allowance: err = %v, want ErrNotAllowed", err)
	}
	// A replaced record cannot be allowed again.
	if err := s.AllowReenrollment(ctx, old.ID, 0, t0.Add(time.Hour)); !errors.Is(err, ErrNotFound) {
		t.Fatalf("allowance for a replaced device: err = %v, want ErrNotFound", err)
	}
	if _, err := s.DeviceByID(ctx, "d-none"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("unknown id: err = %v", err)
	}
	// The new record can be re-enrolled in turn.
	if err := s.AllowReenrollment(ctx, "d-new", 10, t0.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.CompleteEnrollment(ctx, "n3", now, replacement("d-newer", cur), reenrolled); err != nil {
		t.Fatal(err)
	}
	all, err := s.Devices(ctx)
	if err != nil || len(all) != 3 {
		t.Fatalf("devices = %+v, %v", all, err)
	}
	want := [][3]string{{old.ID, StatusReplaced, "d-new"}, {"d-new", StatusReplaced, "d-newer"}, {"d-newer", StatusActive, ""}}
	for i, d := range all {
		if got := [3]string{d.ID, d.Status, d.ReplacedBy}; got != want[i] {
			t.Errorf("device %d = %v, want %v", i, got, want[i])
		}
	}
	if head, err := s.VerifyAudit(ctx); err != nil || head.Seq != 2 {
		t.Fatalf("audit head %+v, %v", head, err)
	}
}

func TestReenrollmentConcurrent(t *testing.T) {
	ctx := context.Background()
	const workers = 8
	var nonces []string
	for i := range workers {
		nonces = append(nonces, fmt.Sprintf("n%d", i))
	}
	s, old := reenrollSetup(t, nonces...)
	if err := s.AllowReenrollment(ctx, old.ID, 0, t0.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	var wins, refused atomic.Int32
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range workers {
		wg.Go(func() {
			<-start
			_, _, err := s.CompleteEnrollment(ctx, nonces[i], t0, replacement(fmt.Sprintf("d-%d", i), old), reenrolled)
			switch {
			case err == nil:
				wins.Add(1)
			case errors.Is(err, ErrNotAllowed):
				refused.Add(1)
			default:
				t.Errorf("unexpected error: %v", err)
			}
		})
	}
	close(start)
	wg.Wait()
	if wins.Load() != 1 || refused.Load() != workers-1 {
		t.Fatalf("%d winners and %d ErrNotAllowed, want 1 and %d", wins.Load(), refused.Load(), workers-1)
	}
	all, err := s.Devices(ctx)
	if err != nil || len(all) != 2 || all[0].Status != StatusReplaced || all[0].ReplacedBy != all[1].ID {
		t.Fatalf("devices = %+v, %v", all, err)
	}
	if head, err := s.VerifyAudit(ctx); err != nil || head.Seq != 1 {
		t.Fatalf("audit head %+v, %v", head, err)
	}
}
