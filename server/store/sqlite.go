package store

import (
	"context"
	"crypto/rand"
	"database/sql"
	"database/sql/driver"
	"embed"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"

	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"
)

// TimeLayout is how times are stored: UTC, fixed width, so text order is
// time order.
const TimeLayout = "2006-01-02T15:04:05.000000000Z"

//go:embed migrations/*.sql
var migrationFS embed.FS

// rebuildMarker, as the first line of a migration, says that it rebuilds
// tables (SQLite's 12-step procedure) and must run with foreign keys off.
const rebuildMarker = "-- kiwistack: rebuilds tables (foreign keys off)"

// migration is one numbered schema step.
type migration struct {
	version int
	name    string
	sql     string
	// rebuilds is set when the file starts with rebuildMarker.
	rebuilds bool
}

// migrations returns the embedded migrations in order; file names are
// NNNN_name.sql numbered from 1 without gaps.
func migrations() ([]migration, error) {
	files, err := fs.Glob(migrationFS, "migrations/*.sql")
	if err != nil {
		return nil, fmt.Errorf("listing migrations: %w", err)
	}
	sort.Strings(files)
	var out []migration
	for i, f := range files {
		base := strings.TrimPrefix(f, "migrations/")
		num, _, ok := strings.Cut(base, "_")
		v, err := strconv.Atoi(num)
		if !ok || err != nil || v != i+1 {
			return nil, fmt.Errorf("migration %s: want number %04d", base, i+1)
		}
		b, err := migrationFS.ReadFile(f)
		if err != nil {
			return nil, fmt.Errorf("reading migration %s: %w", base, err)
		}
		first, _, _ := strings.Cut(string(b), "\n")
		out = append(out, migration{version: v, name: base, sql: string(b),
			rebuilds: strings.TrimSpace(first) == rebuildMarker})
	}
	return out, nil
}

// SQLite is the Store on one SQLite database file.
type SQLite struct {
	db    *sql.DB
	now   func() time.Time
	rand  io.Reader
	busy  time.Duration
	conns int
	// upTo, when > 0, stops migrations after that version (tests build
	// databases of an older schema with it).
	upTo int
}

var _ Store = (*SQLite)(nil)

// Option configures Open.
type Option func(*SQLite)

// WithClock sets the clock used for times the caller leaves zero.
func WithClock(now func() time.Time) Option { return func(s *SQLite) { s.now = now } }

// WithRand sets the source of device ids (crypto/rand by default).
func WithRand(r io.Reader) Option { return func(s *SQLite) { s.rand = r } }

// WithBusyTimeout sets how long a writer waits for another (5 s by default).
func WithBusyTimeout(d time.Duration) Option { return func(s *SQLite) { s.busy = d } }

// Open opens (creating if needed) the database at path in WAL mode with
// foreign keys on and a busy timeout, and applies pending migrations.
func Open(ctx context.Context, path string, opts ...Option) (*SQLite, error) {
	s := &SQLite{now: time.Now, rand: rand.Reader, busy: 5 * time.Second, conns: 4}
	for _, o := range opts {
		o(s)
	}
	q := url.Values{}
	q.Add("_pragma", fmt.Sprintf("busy_timeout(%d)", s.busy.Milliseconds()))
	q.Add("_pragma", "journal_mode(WAL)")
	q.Add("_pragma", "foreign_keys(1)")
	q.Add("_pragma", "synchronous(NORMAL)")
	q.Set("_txlock", "immediate")
	dsn := (&url.URL{Scheme: "file", OmitHost: true, Path: path, RawQuery: q.Encode()}).String()
	db, err := sql.Open("sqlite", dsn)
	if err != nil {
		return nil, fmt.Errorf("opening store %s: %w", path, err)
	}
	db.SetMaxOpenConns(s.conns)
	s.db = db
	if err := s.checkPragmas(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("opening store %s: %w", path, err)
	}
	if err := s.migrate(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("migrating store %s: %w", path, err)
	}
	return s, nil
}

// checkPragmas makes sure the connection settings took effect.
func (s *SQLite) checkPragmas(ctx context.Context) error {
	var mode string
	if err := s.db.QueryRowContext(ctx, "PRAGMA journal_mode").Scan(&mode); err != nil {
		return fmt.Errorf("reading journal mode: %w", err)
	}
	if mode != "wal" {
		return fmt.Errorf("journal mode is %q, want wal", mode)
	}
	var fk int
	if err := s.db.QueryRowContext(ctx, "PRAGMA foreign_keys").Scan(&fk); err != nil {
		return fmt.Errorf("reading foreign_keys: %w", err)
	}
	if fk != 1 {
		return errors.New("foreign keys are off")
	}
	return nil
}

// SchemaVersion returns the version of the applied schema.
func (s *SQLite) SchemaVersion(ctx context.Context) (int, error) {
	var v int
	if err := s.db.QueryRowContext(ctx, "SELECT COALESCE(MAX(version), 0) FROM schema_version").Scan(&v); err != nil {
		return 0, fmt.Errorf("reading schema version: %w", err)
	}
	return v, nil
}

// migrate applies every migration newer than the stored version, each in its
// own transaction together with its schema_version row.
func (s *SQLite) migrate(ctx context.Context) error {
	ms, err := migrations()
	if err != nil {
		return err
	}
	if _, err := s.db.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_version (
		version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL) STRICT`); err != nil {
		return fmt.Errorf("creating schema_version: %w", err)
	}
	for _, m := range ms {
		if s.upTo > 0 && m.version > s.upTo {
			break
		}
		if err := s.apply(ctx, m); err != nil {
			return err
		}
	}
	v, err := s.SchemaVersion(ctx)
	if err != nil {
		return err
	}
	if v > len(ms) {
		return fmt.Errorf("database schema version %d is newer than this binary's %d", v, len(ms))
	}
	return nil
}

// apply applies m unless it is recorded in schema_version. A migration that
// rebuilds tables follows SQLite's procedure for other kinds of table schema
// changes: on one connection, foreign keys off outside the transaction, the
// migration, PRAGMA foreign_key_check before the commit, foreign keys on.
func (s *SQLite) apply(ctx context.Context, m migration) error {
	conn, err := s.db.Conn(ctx)
	if err != nil {
		return fmt.Errorf("applying %s: %w", m.name, err)
	}
	defer conn.Close()
	if m.rebuilds {
		if _, err := conn.ExecContext(ctx, "PRAGMA foreign_keys = OFF"); err != nil {
			return fmt.Errorf("applying %s: turning foreign keys off: %w", m.name, err)
		}
		defer func() {
			// The connection goes back to the pool: it must enforce foreign
			// keys again, or it is discarded.
			if _, err := conn.ExecContext(context.WithoutCancel(ctx), "PRAGMA foreign_keys = ON"); err != nil {
				_ = conn.Raw(func(any) error { return driver.ErrBadConn })
			}
		}()
	}
	tx, err := conn.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("applying %s: beginning transaction: %w", m.name, err)
	}
	defer tx.Rollback()
	var n int
	if err := tx.QueryRowContext(ctx, "SELECT COUNT(*) FROM schema_version WHERE version = ?", m.version).Scan(&n); err != nil {
		return fmt.Errorf("applying %s: %w", m.name, err)
	}
	if n > 0 {
		return nil
	}
	if _, err := tx.ExecContext(ctx, m.sql); err != nil {
		return fmt.Errorf("applying %s: %w", m.name, err)
	}
	if m.rebuilds {
		if err := foreignKeyCheck(ctx, tx); err != nil {
			return fmt.Errorf("applying %s: %w", m.name, err)
		}
	}
	if _, err := tx.ExecContext(ctx, "INSERT INTO schema_version (version, name, applied_at) VALUES (?, ?, ?)",
		m.version, m.name, formatTime(s.now())); err != nil {
		return fmt.Errorf("applying %s: %w", m.name, err)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("applying %s: committing: %w", m.name, err)
	}
	return nil
}

// foreignKeyCheck fails when PRAGMA foreign_key_check reports a row whose
// reference is dangling, naming the first few.
func foreignKeyCheck(ctx context.Context, tx *sql.Tx) error {
	rows, err := tx.QueryContext(ctx, "PRAGMA foreign_key_check")
	if err != nil {
		return fmt.Errorf("checking foreign keys: %w", err)
	}
	defer rows.Close()
	var bad []string
	for rows.Next() {
		var table, parent string
		var rowid sql.NullInt64
		var fkid int
		if err := rows.Scan(&table, &rowid, &parent, &fkid); err != nil {
			return fmt.Errorf("checking foreign keys: %w", err)
		}
		if len(bad) < 5 {
			bad = append(bad, fmt.Sprintf("%s row %d references a missing %s", table, rowid.Int64, parent))
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("checking foreign keys: %w", err)
	}
	if len(bad) > 0 {
		return fmt.Errorf("foreign key check failed: %s", strings.Join(bad, "; "))
	}
	return nil
}

// Close closes the database.
func (s *SQLite) Close() error { return s.db.Close() }

// inTx runs fn in one immediate transaction, committing when it returns nil.
func (s *SQLite) inTx(ctx context.Context, fn func(*sql.Tx) error) error {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("beginning transaction: %w", err)
	}
	if err := fn(tx); err != nil {
		_ = tx.Rollback()
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("committing: %w", err)
	}
	return nil
}

// mapErr turns SQLite constraint errors into ErrExists and ErrNotFound.
func mapErr(err error, what string) error {
	var se *sqlite.Error
	if errors.As(err, &se) {
		switch se.Code() {
		case sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY, sqlite3.SQLITE_CONSTRAINT_UNIQUE:
			return fmt.Errorf("%s: %w: %w", what, ErrExists, err)
		case sqlite3.SQLITE_CONSTRAINT_FOREIGNKEY:
			return fmt.Errorf("%s: referenced row: %w: %w", what, ErrNotFound, err)
		}
	}
	return fmt.Errorf("%s: %w", what, err)
}

// formatTime formats t for storage; the zero time stays distinguishable.
func formatTime(t time.Time) string { return t.UTC().Format(TimeLayout) }

// parseTime parses a stored time.
func parseTime(s string) (time.Time, error) {
	t, err := time.Parse(TimeLayout, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("stored time %q: %w", s, err)
	}
	return t, nil
}

// parseNullTime parses a nullable stored time; NULL is the zero time.
func parseNullTime(s sql.NullString) (time.Time, error) {
	if !s.Valid {
		return time.Time{}, nil
	}
	return parseTime(s.String)
}

// orNow returns t, or the store's clock when t is zero.
func (s *SQLite) orNow(t time.Time) time.Time {
	if t.IsZero() {
		return s.now()
	}
	return t
}

// AddRosterEntry implements Store.
func (s *SQLite) AddRosterEntry(ctx context.Context, e RosterEntry) error {
	if e.Serial == 0 || e.Admin == "" || e.Role == "" || e.SPKISHA256 == "" {
		return errors.New("adding roster entry: serial, admin, role and spki_sha256 are required")
	}
	if e.Attestation == nil {
		e.Attestation = []byte{}
	}
	return s.inTx(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO roster (serial, admin, role, spki_sha256, attestation, added_at)
			VALUES (?, ?, ?, ?, ?, ?)`, e.Serial, e.Admin, e.Role, e.SPKISHA256, e.Attestation, formatTime(s.orNow(e.AddedAt)))
		if err != nil {
			return mapErr(err, fmt.Sprintf("adding roster entry %d", e.Serial))
		}
		return nil
	})
}

// BurnKey implements Store.
func (s *SQLite) BurnKey(ctx context.Context, serial uint32, at time.Time) error {
	return s.inTx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `UPDATE roster SET burned = 1, burned_at = COALESCE(burned_at, ?) WHERE serial = ?`,
			formatTime(s.orNow(at)), serial)
		if err != nil {
			return fmt.Errorf("burning key %d: %w", serial, err)
		}
		if n, err := res.RowsAffected(); err != nil || n == 0 {
			return fmt.Errorf("burning key %d: %w", serial, ErrNotFound)
		}
		return nil
	})
}

// scanner is a *sql.Row or *sql.Rows.
type scanner interface{ Scan(...any) error }

// queryAll runs query with args on q and reads every row with scan; what
// (such as "listing roster") prefixes its errors.
func queryAll[T any](ctx context.Context, q querier, what string, scan func(scanner) (T, error), query string, args ...any) ([]T, error) {
	rows, err := q.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	defer rows.Close()
	var out []T
	for rows.Next() {
		v, err := scan(rows)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", what, err)
		}
		out = append(out, v)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	return out, nil
}

// scanRoster reads one roster row.
func scanRoster(r scanner) (RosterEntry, error) {
	var e RosterEntry
	var burnedAt sql.NullString
	var added string
	if err := r.Scan(&e.Serial, &e.Admin, &e.Role, &e.SPKISHA256, &e.Attestation, &e.Burned, &burnedAt, &added); err != nil {
		return e, err
	}
	var err error
	if e.BurnedAt, err = parseNullTime(burnedAt); err != nil {
		return e, err
	}
	e.AddedAt, err = parseTime(added)
	return e, err
}

const rosterColumns = `serial, admin, role, spki_sha256, attestation, burned, burned_at, added_at`

// RosterEntry implements Store.
func (s *SQLite) RosterEntry(ctx context.Context, serial uint32) (RosterEntry, error) {
	e, err := scanRoster(s.db.QueryRowContext(ctx, `SELECT `+rosterColumns+` FROM roster WHERE serial = ?`, serial))
	if errors.Is(err, sql.ErrNoRows) {
		return e, fmt.Errorf("roster entry %d: %w", serial, ErrNotFound)
	}
	if err != nil {
		return e, fmt.Errorf("reading roster entry %d: %w", serial, err)
	}
	return e, nil
}

// RosterEntries implements Store.
func (s *SQLite) RosterEntries(ctx context.Context) ([]RosterEntry, error) {
	return queryAll(ctx, s.db, "listing roster", scanRoster, `SELECT `+rosterColumns+` FROM roster ORDER BY serial`)
}

// IssueNonce implements Store.
func (s *SQLite) IssueNonce(ctx context.Context, n Nonce) error {
	if n.Value == "" || n.Operation == "" || n.ExpiresAt.IsZero() {
		return errors.New("issuing nonce: value, operation and expiry are required")
	}
	return s.inTx(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO nonces (nonce, operation, digest, created_at, expires_at) VALUES (?, ?, ?, ?, ?)`,
			n.Value, n.Operation, n.Digest, formatTime(s.orNow(n.CreatedAt)), formatTime(n.ExpiresAt))
		if err != nil {
			return mapErr(err, "issuing nonce")
		}
		return nil
	})
}

// lookupNonce reads a nonce through q.
func lookupNonce(ctx context.Context, q interface {
	QueryRowContext(context.Context, string, ...any) *sql.Row
}, value string) (Nonce, error) {
	n := Nonce{Value: value}
	var created, expires string
	var used sql.NullString
	err := q.QueryRowContext(ctx, `SELECT operation, digest, created_at, expires_at, used_at FROM nonces WHERE nonce = ?`, value).
		Scan(&n.Operation, &n.Digest, &created, &expires, &used)
	if errors.Is(err, sql.ErrNoRows) {
		return n, fmt.Errorf("nonce: %w", ErrNotFound)
	}
	if err != nil {
		return n, fmt.Errorf("reading nonce: %w", err)
	}
	if n.CreatedAt, err = parseTime(created); err != nil {
		return n, err
	}
	if n.ExpiresAt, err = parseTime(expires); err != nil {
		return n, err
	}
	n.UsedAt, err = parseNullTime(used)
	return n, err
}

// LookupNonce implements Store.
func (s *SQLite) LookupNonce(ctx context.Context, value string) (Nonce, error) {
	return lookupNonce(ctx, s.db, value)
}

// consumeNonce marks a nonce used inside tx. The conditional UPDATE is the
// atomic step: only one transaction can change used_at from NULL.
func consumeNonce(ctx context.Context, tx *sql.Tx, value string, now time.Time) (Nonce, error) {
	res, err := tx.ExecContext(ctx, `UPDATE nonces SET used_at = ? WHERE nonce = ? AND used_at IS NULL AND expires_at > ?`,
		formatTime(now), value, formatTime(now))
	if err != nil {
		return Nonce{}, fmt.Errorf("consuming nonce: %w", err)
	}
	affected, err := res.RowsAffected()
	if err != nil {
		return Nonce{}, fmt.Errorf("consuming nonce: %w", err)
	}
	n, err := lookupNonce(ctx, tx, value)
	if err != nil {
		return n, err
	}
	if affected == 1 {
		return n, nil
	}
	if !n.UsedAt.IsZero() {
		return n, fmt.Errorf("consuming nonce: %w", ErrNonceUsed)
	}
	return n, fmt.Errorf("consuming nonce: %w", ErrNonceExpired)
}

// ConsumeNonce implements Store.
func (s *SQLite) ConsumeNonce(ctx context.Context, value string, now time.Time) (Nonce, error) {
	var n Nonce
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		var err error
		n, err = consumeNonce(ctx, tx, value, now)
		return err
	})
	return n, err
}

// newDeviceID returns a random device id: "d-" and 16 random bytes in hex.
func (s *SQLite) newDeviceID() (string, error) {
	b := make([]byte, 16)
	if _, err := io.ReadFull(s.rand, b); err != nil {
		return "", fmt.Errorf("generating device id: %w", err)
	}
	return "d-" + hex.EncodeToString(b), nil
}

// createDevice inserts d and its certificates inside tx.
func (s *SQLite) createDevice(ctx context.Context, tx *sql.Tx, d Device) (Device, error) {
	if d.Tenant == "" || d.HardwareFingerprint == "" || d.WireGuardPublicKey == "" || (d.EnrolledBy == 0) == (d.ClaimedWith == "") {
		return d, errors.New("creating device: tenant, hardware fingerprint, WireGuard key and one of enrolled_by and claimed_with are required")
	}
	if d.ID == "" {
		id, err := s.newDeviceID()
		if err != nil {
			return d, err
		}
		d.ID = id
	}
	if d.Status == "" {
		d.Status = StatusActive
	}
	d.CreatedAt = s.orNow(d.CreatedAt)
	if d.UpdatedAt.IsZero() {
		d.UpdatedAt = d.CreatedAt
	}
	// A device a YubiKey enrolled names only enrolled_by, a claimed one
	// only claimed_with (0003), so that tests can still build databases of
	// the older schemas with this code.
	who, whoValue := "enrolled_by", any(d.EnrolledBy)
	if d.ClaimedWith != "" {
		who, whoValue = "claimed_with", d.ClaimedWith
	}
	_, err := tx.ExecContext(ctx, `INSERT INTO devices (id, tenant, hardware_fingerprint, wireguard_public_key, status, `+who+`, created_at, updated_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?)`, d.ID, d.Tenant, d.HardwareFingerprint, d.WireGuardPublicKey, d.Status, whoValue,
		formatTime(d.CreatedAt), formatTime(d.UpdatedAt))
	if err != nil {
		return d, mapErr(err, "creating device")
	}
	for _, c := range d.Certificates {
		// The issuer column only when known, so that the statement also runs
		// on a schema before 0009 (the migration tests write such databases).
		q, args := `INSERT INTO device_certificates (serial, device_id, not_after, issued_at) VALUES (?, ?, ?, ?)`,
			[]any{c.Serial, d.ID, formatTime(c.NotAfter), formatTime(s.orNow(c.IssuedAt))}
		if c.Issuer != "" {
			q, args = `INSERT INTO device_certificates (serial, device_id, not_after, issued_at, issuer_sha256) VALUES (?, ?, ?, ?, ?)`, append(args, c.Issuer)
		}
		_, err := tx.ExecContext(ctx, q, args...)
		if err != nil {
			return d, mapErr(err, "recording device certificate "+c.Serial)
		}
	}
	return d, nil
}

// CreateDevice implements Store.
func (s *SQLite) CreateDevice(ctx context.Context, d Device) (Device, error) {
	if d.Replaces != "" {
		return d, errors.New("creating device: a device that replaces another is created by CompleteEnrollment")
	}
	var out Device
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		var err error
		out, err = s.createDevice(ctx, tx, d)
		return err
	})
	return out, err
}

// querier is a *sql.DB or *sql.Tx.
type querier interface {
	QueryContext(context.Context, string, ...any) (*sql.Rows, error)
}

// deviceColumns are the columns scanDevice reads, from devices as d;
// replaces is the record d replaced.
const deviceColumns = `d.id, d.tenant, d.hardware_fingerprint, d.wireguard_public_key, d.status,
	COALESCE(d.replaced_by, ''), COALESCE((SELECT o.id FROM devices o WHERE o.replaced_by = d.id), ''),
	COALESCE(d.enrolled_by, 0), COALESCE(d.claimed_with, ''), d.created_at, d.updated_at`

// devices reads the devices that match where (a condition on d, with args)
// and their certificates, in the order they were created.
func devices(ctx context.Context, q querier, where string, args ...any) ([]Device, error) {
	rows, err := q.QueryContext(ctx, `SELECT `+deviceColumns+` FROM devices d WHERE `+where+` ORDER BY d.created_at, d.rowid`, args...)
	if err != nil {
		return nil, fmt.Errorf("reading devices: %w", err)
	}
	defer rows.Close()
	var out []Device
	index := map[string]int{}
	for rows.Next() {
		var d Device
		var created, updated string
		if err := rows.Scan(&d.ID, &d.Tenant, &d.HardwareFingerprint, &d.WireGuardPublicKey, &d.Status, &d.ReplacedBy, &d.Replaces,
			&d.EnrolledBy, &d.ClaimedWith, &created, &updated); err != nil {
			return nil, fmt.Errorf("reading devices: %w", err)
		}
		if d.CreatedAt, err = parseTime(created); err != nil {
			return nil, err
		}
		if d.UpdatedAt, err = parseTime(updated); err != nil {
			return nil, err
		}
		index[d.ID] = len(out)
		out = append(out, d)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("reading devices: %w", err)
	}
	rows.Close()
	if len(out) == 0 {
		return nil, nil
	}
	crows, err := q.QueryContext(ctx, `SELECT c.device_id, c.serial, c.not_after, c.issued_at, c.issuer_sha256 FROM device_certificates c
		JOIN devices d ON d.id = c.device_id WHERE `+where+` ORDER BY c.issued_at, c.serial`, args...)
	if err != nil {
		return nil, fmt.Errorf("reading device certificates: %w", err)
	}
	defer crows.Close()
	for crows.Next() {
		var id, na, ia string
		var c DeviceCertificate
		if err := crows.Scan(&id, &c.Serial, &na, &ia, &c.Issuer); err != nil {
			return nil, fmt.Errorf("reading device certificates: %w", err)
		}
		if c.NotAfter, err = parseTime(na); err != nil {
			return nil, err
		}
		if c.IssuedAt, err = parseTime(ia); err != nil {
			return nil, err
		}
		if i, ok := index[id]; ok {
			out[i].Certificates = append(out[i].Certificates, c)
		}
	}
	if err := crows.Err(); err != nil {
		return nil, fmt.Errorf("reading device certificates: %w", err)
	}
	return out, nil
}

// oneDevice reads the one device that matches where; ErrNotFound if none.
func oneDevice(ctx context.Context, q querier, where string, args ...any) (Device, error) {
	ds, err := devices(ctx, q, where, args...)
	if err != nil {
		return Device{}, err
	}
	if len(ds) == 0 {
		return Device{}, fmt.Errorf("device: %w", ErrNotFound)
	}
	return ds[0], nil
}

// DeviceByFingerprint implements Store.
func (s *SQLite) DeviceByFingerprint(ctx context.Context, fingerprint string) (Device, error) {
	return oneDevice(ctx, s.db, `d.hardware_fingerprint = ? AND d.status <> 'replaced'`, fingerprint)
}

// DeviceByID implements Store.
func (s *SQLite) DeviceByID(ctx context.Context, id string) (Device, error) {
	d, err := oneDevice(ctx, s.db, `d.id = ?`, id)
	if err != nil {
		return d, fmt.Errorf("device %s: %w", id, err)
	}
	return d, nil
}

// Devices implements Store.
func (s *SQLite) Devices(ctx context.Context) ([]Device, error) {
	return devices(ctx, s.db, `1`)
}

// CompleteEnrollment implements Store.
func (s *SQLite) CompleteEnrollment(ctx context.Context, nonce string, now time.Time, d Device, rec AuditRecord) (Device, AuditEntry, error) {
	dev, entry, err := s.complete(ctx, now, d, rec, func(tx *sql.Tx) error {
		_, err := consumeNonce(ctx, tx, nonce, now)
		return err
	})
	if err != nil {
		return Device{}, AuditEntry{}, fmt.Errorf("completing enrollment: %w", err)
	}
	return dev, entry, nil
}

// complete runs consume (which spends what authorises the device: a nonce,
// a bootstrap token), then replaces d.Replaces when set, creates d and
// appends rec, all in one transaction.
func (s *SQLite) complete(ctx context.Context, now time.Time, d Device, rec AuditRecord, consume func(*sql.Tx) error) (Device, AuditEntry, error) {
	var dev Device
	var entry AuditEntry
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		if err := consume(tx); err != nil {
			return err
		}
		if d.Replaces != "" {
			if err := s.replaceDevice(ctx, tx, d, now); err != nil {
				return err
			}
		}
		var err error
		if dev, err = s.createDevice(ctx, tx, d); err != nil {
			return err
		}
		entry, err = s.appendAudit(ctx, tx, rec)
		return err
	})
	return dev, entry, err
}

// replaceDevice consumes the allowance for d to replace d.Replaces and marks
// that device replaced by d.ID, inside tx. The conditional DELETE is the
// atomic step: only one transaction can consume an allowance.
func (s *SQLite) replaceDevice(ctx context.Context, tx *sql.Tx, d Device, now time.Time) error {
	if d.ID == "" {
		return errors.New("replacing device: the new device needs its id")
	}
	res, err := tx.ExecContext(ctx, `DELETE FROM reenrollments WHERE hardware_fingerprint = ? AND device_id = ? AND expires_at > ?`,
		d.HardwareFingerprint, d.Replaces, formatTime(now))
	if err != nil {
		return fmt.Errorf("consuming re-enrollment allowance: %w", err)
	}
	if n, err := res.RowsAffected(); err != nil || n != 1 {
		return fmt.Errorf("replacing device %s: %w", d.Replaces, ErrNotAllowed)
	}
	res, err = tx.ExecContext(ctx, `UPDATE devices SET status = 'replaced', replaced_by = ?, updated_at = ?
		WHERE id = ? AND hardware_fingerprint = ? AND status <> 'replaced'`,
		d.ID, formatTime(now), d.Replaces, d.HardwareFingerprint)
	if err != nil {
		return fmt.Errorf("replacing device %s: %w", d.Replaces, err)
	}
	if n, err := res.RowsAffected(); err != nil || n != 1 {
		return fmt.Errorf("replacing device %s: %w", d.Replaces, ErrNotAllowed)
	}
	return nil
}

// AllowReenrollment implements Store.
func (s *SQLite) AllowReenrollment(ctx context.Context, deviceID string, by uint32, until time.Time) error {
	now := s.now()
	if !until.After(now) {
		return fmt.Errorf("allowing re-enrollment of %s: the allowance would already be expired", deviceID)
	}
	return s.inTx(ctx, func(tx *sql.Tx) error {
		var fp string
		err := tx.QueryRowContext(ctx, `SELECT hardware_fingerprint FROM devices WHERE id = ? AND status <> 'replaced'`, deviceID).Scan(&fp)
		if errors.Is(err, sql.ErrNoRows) {
			return fmt.Errorf("allowing re-enrollment: device %s: %w", deviceID, ErrNotFound)
		}
		if err != nil {
			return fmt.Errorf("allowing re-enrollment of %s: %w", deviceID, err)
		}
		_, err = tx.ExecContext(ctx, `INSERT INTO reenrollments (hardware_fingerprint, device_id, allowed_by, allowed_at, expires_at)
			VALUES (?, ?, ?, ?, ?) ON CONFLICT (hardware_fingerprint) DO UPDATE SET
			device_id = excluded.device_id, allowed_by = excluded.allowed_by, allowed_at = excluded.allowed_at, expires_at = excluded.expires_at`,
			fp, deviceID, by, formatTime(now), formatTime(until))
		if err != nil {
			return mapErr(err, "allowing re-enrollment of "+deviceID)
		}
		return nil
	})
}

// Reenrollment implements Store.
func (s *SQLite) Reenrollment(ctx context.Context, fingerprint string) (Reenrollment, error) {
	r := Reenrollment{HardwareFingerprint: fingerprint}
	var allowed, expires string
	err := s.db.QueryRowContext(ctx, `SELECT device_id, allowed_by, allowed_at, expires_at FROM reenrollments WHERE hardware_fingerprint = ?`,
		fingerprint).Scan(&r.DeviceID, &r.AllowedBy, &allowed, &expires)
	if errors.Is(err, sql.ErrNoRows) {
		return r, fmt.Errorf("re-enrollment allowance: %w", ErrNotFound)
	}
	if err != nil {
		return r, fmt.Errorf("reading re-enrollment allowance: %w", err)
	}
	if r.AllowedAt, err = parseTime(allowed); err != nil {
		return r, err
	}
	r.ExpiresAt, err = parseTime(expires)
	return r, err
}

// appendAudit appends rec inside tx, which holds the write lock, so the
// read of the chain head and the insert are atomic.
func (s *SQLite) appendAudit(ctx context.Context, tx *sql.Tx, rec AuditRecord) (AuditEntry, error) {
	e := AuditEntry{AuditRecord: rec}
	e.Time = s.orNow(rec.Time).UTC()
	var last sql.NullInt64
	var prev sql.NullString
	err := tx.QueryRowContext(ctx, `SELECT seq, hash FROM audit ORDER BY seq DESC LIMIT 1`).Scan(&last, &prev)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return e, fmt.Errorf("reading audit head: %w", err)
	}
	var highest int64
	if err := tx.QueryRowContext(ctx, `SELECT COALESCE((SELECT seq FROM sqlite_sequence WHERE name = 'audit'), 0)`).Scan(&highest); err != nil {
		return e, fmt.Errorf("reading audit sequence: %w", err)
	}
	if highest != last.Int64 {
		return e, fmt.Errorf("appending audit entry: %w", &AuditError{Seq: highest, Problem: "the last entries were removed"})
	}
	e.Seq = last.Int64 + 1
	e.PrevHash = GenesisHash
	if prev.Valid {
		e.PrevHash = prev.String
	}
	e.Hash = EntryHash(e)
	_, err = tx.ExecContext(ctx, `INSERT INTO audit (seq, time, actor, operation, params_digest, result, reason, prev_hash, hash)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`, e.Seq, formatTime(e.Time), e.Actor, e.Operation, e.ParamsDigest, e.Result, e.Reason, e.PrevHash, e.Hash)
	if err != nil {
		return e, fmt.Errorf("appending audit entry: %w", err)
	}
	return e, nil
}

// AppendAudit implements Store.
func (s *SQLite) AppendAudit(ctx context.Context, rec AuditRecord) (AuditEntry, error) {
	var e AuditEntry
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		var err error
		e, err = s.appendAudit(ctx, tx, rec)
		return err
	})
	return e, err
}

// AuditEntries implements Store.
func (s *SQLite) AuditEntries(ctx context.Context, after int64, limit int) ([]AuditEntry, error) {
	if limit <= 0 {
		return nil, nil
	}
	rows, err := s.db.QueryContext(ctx, `SELECT seq, time, actor, operation, params_digest, result, reason, prev_hash, hash
		FROM audit WHERE seq > ? ORDER BY seq LIMIT ?`, after, limit)
	if err != nil {
		return nil, fmt.Errorf("reading audit log: %w", err)
	}
	defer rows.Close()
	var out []AuditEntry
	for rows.Next() {
		var e AuditEntry
		var ts string
		if err := rows.Scan(&e.Seq, &ts, &e.Actor, &e.Operation, &e.ParamsDigest, &e.Result, &e.Reason, &e.PrevHash, &e.Hash); err != nil {
			return nil, fmt.Errorf("reading audit log: %w", err)
		}
		if e.Time, err = parseTime(ts); err != nil {
			return nil, &AuditError{Seq: e.Seq, Problem: err.Error()}
		}
		out = append(out, e)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("reading audit log: %w", err)
	}
	return out, nil
}

// VerifyAudit implements Store. Besides the chain it compares the last seq
// with SQLite's AUTOINCREMENT counter, so removing the newest entries is
// detected too unless that counter is edited as well; publish the head to
// catch that.
func (s *SQLite) VerifyAudit(ctx context.Context) (AuditHead, error) {
	head := AuditHead{Hash: GenesisHash}
	const page = 1000
	for {
		entries, err := s.AuditEntries(ctx, head.Seq, page)
		if err != nil {
			return head, err
		}
		for _, e := range entries {
			if e.Seq != head.Seq+1 {
				return head, &AuditError{Seq: head.Seq + 1, Problem: "missing"}
			}
			if e.PrevHash != head.Hash {
				return head, &AuditError{Seq: e.Seq, Problem: "does not follow the previous entry"}
			}
			if EntryHash(e) != e.Hash {
				return head, &AuditError{Seq: e.Seq, Problem: "content does not match its hash"}
			}
			head = AuditHead{Seq: e.Seq, Hash: e.Hash}
		}
		if len(entries) < page {
			break
		}
	}
	var highest int64
	if err := s.db.QueryRowContext(ctx, `SELECT COALESCE((SELECT seq FROM sqlite_sequence WHERE name = 'audit'), 0)`).Scan(&highest); err != nil {
		return head, fmt.Errorf("reading audit sequence: %w", err)
	}
	if highest != head.Seq {
		return head, &AuditError{Seq: head.Seq + 1, Problem: "the last entries were removed"}
	}
	return head, nil
}
