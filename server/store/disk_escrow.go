package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"
)

// DiskEscrow is a device's escrowed recovery key, sealed to the tenant's
// escrow public key.
type DiskEscrow struct {
	// ID is "esc-" and 128 random bits, base64url.
	ID       string
	DeviceID string
	// Volume is the volume the key opens (the LUKS UUID).
	Volume string
	// KeySlot is its key slot, -1 when none.
	KeySlot int
	// Sealed is the sealed key (kse1.…).
	Sealed string
	// Replaces is the escrow this one replaced after a read, if any.
	Replaces   string
	EscrowedAt time.Time
	// ReadAt and ReadOperation are set once a read_recovery_key released it.
	ReadAt        time.Time
	ReadOperation string
}

// EscrowRelease is an applied read_recovery_key's result: the key of
// EscrowID re-sealed to the operation's recipient key.
type EscrowRelease struct {
	OperationID, EscrowID string
	// Sealed is the released key (ksr1.…).
	Sealed     string
	ReleasedAt time.Time
}

// DiskEscrowStore is the part of Store that keeps escrowed recovery keys.
type DiskEscrowStore interface {
	// AddDiskEscrow stores e (its ID, DeviceID, Volume, KeySlot, Sealed,
	// Replaces and EscrowedAt) and returns it; a Sealed already stored
	// for the same device returns that row unchanged (an agent re-posting
	// after a crash), for another device ErrExists. ErrNotFound if the
	// device or the replaced escrow is unknown.
	AddDiskEscrow(ctx context.Context, e DiskEscrow) (DiskEscrow, error)
	// CurrentDiskEscrow returns the device's newest escrowed key;
	// ErrNotFound if it has none.
	CurrentDiskEscrow(ctx context.Context, deviceID string) (DiskEscrow, error)
	// DiskEscrow returns one escrowed key; ErrNotFound if unknown.
	DiskEscrow(ctx context.Context, id string) (DiskEscrow, error)
	// EscrowRelease returns the release of operation id; ErrNotFound if
	// none.
	EscrowRelease(ctx context.Context, operationID string) (EscrowRelease, error)
}

const diskEscrowColumns = `id, device_id, volume, key_slot, sealed, COALESCE(replaces, ''), escrowed_at, read_at, COALESCE(read_operation, '')`

func scanDiskEscrow(r scanner) (DiskEscrow, error) {
	var e DiskEscrow
	var at string
	var read sql.NullString
	if err := r.Scan(&e.ID, &e.DeviceID, &e.Volume, &e.KeySlot, &e.Sealed, &e.Replaces, &at, &read, &e.ReadOperation); err != nil {
		return e, err
	}
	var err error
	if e.EscrowedAt, err = parseTime(at); err != nil {
		return e, err
	}
	e.ReadAt, err = parseNullTime(read)
	return e, err
}

// AddDiskEscrow implements DiskEscrowStore.
func (s *SQLite) AddDiskEscrow(ctx context.Context, e DiskEscrow) (DiskEscrow, error) {
	if e.ID == "" || e.DeviceID == "" || e.Volume == "" || e.Sealed == "" {
		return e, errors.New("adding a disk escrow: id, device, volume and sealed key are required")
	}
	var out DiskEscrow
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		old, err := scanDiskEscrow(tx.QueryRowContext(ctx, `SELECT `+diskEscrowColumns+` FROM disk_escrows WHERE sealed = ?`, e.Sealed))
		switch {
		case err == nil && old.DeviceID == e.DeviceID:
			out = old
			return nil
		case err == nil:
			return fmt.Errorf("adding a disk escrow: %w: the sealed key is another device's", ErrExists)
		case !errors.Is(err, sql.ErrNoRows):
			return fmt.Errorf("adding a disk escrow: %w", err)
		}
		var replaces any
		if e.Replaces != "" {
			replaces = e.Replaces
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO disk_escrows (id, device_id, volume, key_slot, sealed, replaces, escrowed_at)
			VALUES (?, ?, ?, ?, ?, ?, ?)`, e.ID, e.DeviceID, e.Volume, e.KeySlot, e.Sealed, replaces, formatTime(e.EscrowedAt)); err != nil {
			return mapErr(err, "adding a disk escrow of device "+e.DeviceID)
		}
		out = e
		return nil
	})
	return out, err
}

// CurrentDiskEscrow implements DiskEscrowStore.
func (s *SQLite) CurrentDiskEscrow(ctx context.Context, deviceID string) (DiskEscrow, error) {
	e, err := scanDiskEscrow(s.db.QueryRowContext(ctx, `SELECT `+diskEscrowColumns+` FROM disk_escrows
		WHERE device_id = ? ORDER BY escrowed_at DESC, rowid DESC LIMIT 1`, deviceID))
	if errors.Is(err, sql.ErrNoRows) {
		return e, fmt.Errorf("disk escrow of device %s: %w", deviceID, ErrNotFound)
	}
	if err != nil {
		return e, fmt.Errorf("reading the disk escrow of device %s: %w", deviceID, err)
	}
	return e, nil
}

// DiskEscrow implements DiskEscrowStore.
func (s *SQLite) DiskEscrow(ctx context.Context, id string) (DiskEscrow, error) {
	e, err := scanDiskEscrow(s.db.QueryRowContext(ctx, `SELECT `+diskEscrowColumns+` FROM disk_escrows WHERE id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return e, fmt.Errorf("disk escrow %s: %w", id, ErrNotFound)
	}
	if err != nil {
		return e, fmt.Errorf("reading disk escrow %s: %w", id, err)
	}
	return e, nil
}

// EscrowRelease implements DiskEscrowStore.
func (s *SQLite) EscrowRelease(ctx context.Context, operationID string) (EscrowRelease, error) {
	r := EscrowRelease{OperationID: operationID}
	var at string
	err := s.db.QueryRowContext(ctx, `SELECT escrow_id, sealed, released_at FROM disk_escrow_releases WHERE operation_id = ?`,
		operationID).Scan(&r.EscrowID, &r.Sealed, &at)
	if errors.Is(err, sql.ErrNoRows) {
		return r, fmt.Errorf("recovery-key release of %s: %w", operationID, ErrNotFound)
	}
	if err != nil {
		return r, fmt.Errorf("reading the recovery-key release of %s: %w", operationID, err)
	}
	r.ReleasedAt, err = parseTime(at)
	return r, err
}

// applyEscrowRelease marks the released escrow read by operation id and
// records the release, inside the operation's transaction.
func applyEscrowRelease(ctx context.Context, tx *sql.Tx, id string, r EscrowRelease, now time.Time) error {
	res, err := tx.ExecContext(ctx, `UPDATE disk_escrows SET read_at = COALESCE(read_at, ?), read_operation = COALESCE(read_operation, ?)
		WHERE id = ?`, formatTime(now), id, r.EscrowID)
	if err != nil {
		return fmt.Errorf("marking disk escrow %s read: %w", r.EscrowID, err)
	}
	if n, err := res.RowsAffected(); err != nil || n == 0 {
		return fmt.Errorf("marking disk escrow %s read: %w", r.EscrowID, ErrNotFound)
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO disk_escrow_releases (operation_id, escrow_id, sealed, released_at) VALUES (?, ?, ?, ?)`,
		id, r.EscrowID, r.Sealed, formatTime(now)); err != nil {
		return mapErr(err, "recording the recovery-key release of "+id)
	}
	return nil
}
