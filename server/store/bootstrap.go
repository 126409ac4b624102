package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"
)

// BootstrapTokenIDLen is the length of a bootstrap token's id: a prefix of
// the hex SHA-256 of the token, safe to show and to log.
const BootstrapTokenIDLen = 12

// BootstrapToken is an OEM bootstrap token as stored: its hash, never the
// token itself.
type BootstrapToken struct {
	// ID is the first BootstrapTokenIDLen hex digits of SHA256; set by
	// CreateBootstrapToken when empty.
	ID string
	// SHA256 is the hex SHA-256 of the whole token.
	SHA256 string
	// Tenant is the tenant slug the token claims into.
	Tenant string
	// HardwareSerial is the serial number of the one laptop that may claim
	// with the token.
	HardwareSerial string
	// CreatedBy is the YubiKey serial of the administrator who created it;
	// 0 is the tenant's operator at the server.
	CreatedBy uint32
	// CreatedAt and ExpiresAt bound the token's life.
	CreatedAt, ExpiresAt time.Time
	// UsedAt is when a laptop claimed with it (zero if not), and DeviceID
	// the device that claim created.
	UsedAt   time.Time
	DeviceID string
	// RevokedAt is when it was revoked (zero if not).
	RevokedAt time.Time
}

// State returns "used", "revoked", "expired" at now, or "outstanding".
func (t BootstrapToken) State(now time.Time) string {
	switch {
	case !t.UsedAt.IsZero():
		return "used"
	case !t.RevokedAt.IsZero():
		return "revoked"
	case !now.Before(t.ExpiresAt):
		return "expired"
	}
	return "outstanding"
}

// CreateBootstrapToken implements Store.
func (s *SQLite) CreateBootstrapToken(ctx context.Context, t BootstrapToken, rec AuditRecord) (BootstrapToken, AuditEntry, error) {
	if len(t.SHA256) != 64 || t.Tenant == "" || t.HardwareSerial == "" || t.ExpiresAt.IsZero() {
		return t, AuditEntry{}, errors.New("creating bootstrap token: hash, tenant, hardware serial and expiry are required")
	}
	if t.ID == "" {
		t.ID = t.SHA256[:BootstrapTokenIDLen]
	}
	t.CreatedAt = s.orNow(t.CreatedAt)
	var entry AuditEntry
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO bootstrap_tokens (id, token_sha256, tenant, hardware_serial, created_by, created_at, expires_at)
			VALUES (?, ?, ?, ?, ?, ?, ?)`, t.ID, t.SHA256, t.Tenant, t.HardwareSerial, t.CreatedBy, formatTime(t.CreatedAt), formatTime(t.ExpiresAt))
		if err != nil {
			return mapErr(err, "creating bootstrap token "+t.ID)
		}
		entry, err = s.appendAudit(ctx, tx, rec)
		return err
	})
	return t, entry, err
}

// bootstrapColumns are the columns scanToken reads.
const bootstrapColumns = `id, token_sha256, tenant, hardware_serial, created_by, created_at, expires_at, used_at, COALESCE(device_id, ''), revoked_at`

// scanToken reads one row of bootstrapColumns.
func scanToken(r scanner) (BootstrapToken, error) {
	var t BootstrapToken
	var created, expires string
	var used, revoked sql.NullString
	if err := r.Scan(&t.ID, &t.SHA256, &t.Tenant, &t.HardwareSerial, &t.CreatedBy, &created, &expires, &used, &t.DeviceID, &revoked); err != nil {
		return t, err
	}
	var err error
	if t.CreatedAt, err = parseTime(created); err != nil {
		return t, err
	}
	if t.ExpiresAt, err = parseTime(expires); err != nil {
		return t, err
	}
	if t.UsedAt, err = parseNullTime(used); err != nil {
		return t, err
	}
	t.RevokedAt, err = parseNullTime(revoked)
	return t, err
}

// tokenWhere reads the one token that matches where.
func tokenWhere(ctx context.Context, q interface {
	QueryRowContext(context.Context, string, ...any) *sql.Row
}, where string, arg any) (BootstrapToken, error) {
	t, err := scanToken(q.QueryRowContext(ctx, `SELECT `+bootstrapColumns+` FROM bootstrap_tokens WHERE `+where, arg))
	if errors.Is(err, sql.ErrNoRows) {
		return t, fmt.Errorf("bootstrap token: %w", ErrNotFound)
	}
	if err != nil {
		return t, fmt.Errorf("reading bootstrap token: %w", err)
	}
	return t, nil
}

// BootstrapTokenByHash implements Store.
func (s *SQLite) BootstrapTokenByHash(ctx context.Context, sum string) (BootstrapToken, error) {
	return tokenWhere(ctx, s.db, `token_sha256 = ?`, sum)
}

// BootstrapTokens implements Store.
func (s *SQLite) BootstrapTokens(ctx context.Context) ([]BootstrapToken, error) {
	return queryAll(ctx, s.db, "reading bootstrap tokens", scanToken, `SELECT `+bootstrapColumns+` FROM bootstrap_tokens ORDER BY created_at, rowid`)
}

// RevokeBootstrapToken implements Store.
func (s *SQLite) RevokeBootstrapToken(ctx context.Context, id string, at time.Time, rec AuditRecord) (AuditEntry, error) {
	var entry AuditEntry
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		t, err := tokenWhere(ctx, tx, `id = ?`, id)
		switch {
		case err != nil:
			return fmt.Errorf("revoking bootstrap token %s: %w", id, err)
		case !t.UsedAt.IsZero():
			return fmt.Errorf("revoking bootstrap token %s: device %s claimed with it: %w", id, t.DeviceID, ErrTokenUsed)
		case !t.RevokedAt.IsZero():
			return fmt.Errorf("revoking bootstrap token %s: %w", id, ErrTokenRevoked)
		}
		if _, err := tx.ExecContext(ctx, `UPDATE bootstrap_tokens SET revoked_at = ? WHERE id = ?`, formatTime(s.orNow(at)), id); err != nil {
			return fmt.Errorf("revoking bootstrap token %s: %w", id, err)
		}
		entry, err = s.appendAudit(ctx, tx, rec)
		return err
	})
	return entry, err
}

// CompleteClaim implements Store.
func (s *SQLite) CompleteClaim(ctx context.Context, sum string, now time.Time, d Device, rec AuditRecord) (Device, AuditEntry, error) {
	if d.ID == "" {
		return Device{}, AuditEntry{}, errors.New("completing claim: the device needs its id")
	}
	dev, entry, err := s.complete(ctx, now, d, rec, func(tx *sql.Tx) error {
		t, err := tokenWhere(ctx, tx, `token_sha256 = ?`, sum)
		switch {
		case err != nil:
			return err
		case !t.UsedAt.IsZero():
			return ErrTokenUsed
		case !t.RevokedAt.IsZero():
			return ErrTokenRevoked
		case !now.Before(t.ExpiresAt):
			return ErrTokenExpired
		case d.ClaimedWith != t.ID:
			return fmt.Errorf("the device names token %q, the hash is token %s", d.ClaimedWith, t.ID)
		}
		// The transaction holds the write lock (immediate), so the check
		// above and this update are atomic; the condition repeats it anyway.
		res, err := tx.ExecContext(ctx, `UPDATE bootstrap_tokens SET used_at = ?, device_id = ?
			WHERE id = ? AND used_at IS NULL AND revoked_at IS NULL`, formatTime(now), d.ID, t.ID)
		if err != nil {
			return fmt.Errorf("consuming bootstrap token: %w", err)
		}
		if n, err := res.RowsAffected(); err != nil || n != 1 {
			return ErrTokenUsed
		}
		return nil
	})
	if err != nil {
		return Device{}, AuditEntry{}, fmt.Errorf("completing claim: %w", err)
	}
	return dev, entry, nil
}
