package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"
)

// States of a device command.
const (
	CommandQueued       = "queued"
	CommandDelivered    = "delivered"
	CommandAcknowledged = "acknowledged"
)

// ErrCommandAcknowledged reports an acknowledgement of a command that
// already has one.
var ErrCommandAcknowledged = errors.New("command already acknowledged")

// Command is a device command (migration 0006): queued by an applied
// remote_lock or remote_wipe (Effect.Command), fetched and acknowledged by
// the device's agent.
type Command struct {
	ID, DeviceID string
	// Kind is "lock" or "wipe".
	Kind string
	// OperationID and OperationDigest are the approved operation.
	OperationID, OperationDigest string
	// Payload and Signature are the signed command as the agent gets it
	// (protocol.SignedCommand).
	Payload, Signature   string
	IssuedAt, ExpiresAt  time.Time
	State                string
	DeliveredAt, AckedAt time.Time
	// Result ("done" or "failed") and Message come with the
	// acknowledgement.
	Result, Message string
}

// CommandStore is the part of Store that keeps device commands. Commands
// are queued through Effect.Command.
type CommandStore interface {
	// PendingCommands returns device id's commands that are not
	// acknowledged and not expired at now, oldest first, marks the queued
	// ones delivered at now and appends one rec per newly delivered
	// command (rec's Reason is left as given, its ParamsDigest set to the
	// command's operation digest), in one transaction.
	PendingCommands(ctx context.Context, deviceID string, now time.Time, rec AuditRecord) ([]Command, error)
	// AckCommand records device id's acknowledgement of command cmdID and
	// appends rec (its ParamsDigest set to the command's operation digest)
	// in one transaction. ErrNotFound if the device has no such command,
	// ErrCommandAcknowledged if it was acknowledged before.
	AckCommand(ctx context.Context, deviceID, cmdID, result, message string, at time.Time, rec AuditRecord) (Command, error)
	// Commands returns every command of device id, oldest first.
	Commands(ctx context.Context, deviceID string) ([]Command, error)
}

const commandColumns = `id, device_id, kind, operation_id, operation_digest, payload, signature, issued_at, expires_at,
	state, delivered_at, acked_at, result, message`

// insertCommand queues c inside tx (applyEffect).
func insertCommand(ctx context.Context, tx *sql.Tx, c Command) error {
	if _, err := tx.ExecContext(ctx, `INSERT INTO device_commands (id, device_id, kind, operation_id, operation_digest,
		payload, signature, issued_at, expires_at, state) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		c.ID, c.DeviceID, c.Kind, c.OperationID, c.OperationDigest, c.Payload, c.Signature,
		formatTime(c.IssuedAt), formatTime(c.ExpiresAt), CommandQueued); err != nil {
		return mapErr(err, fmt.Sprintf("queueing command %s for device %s", c.ID, c.DeviceID))
	}
	return nil
}

type rowScanner interface{ Scan(dest ...any) error }

func scanCommand(r rowScanner) (Command, error) {
	var c Command
	var issued, expires string
	var delivered, acked sql.NullString
	if err := r.Scan(&c.ID, &c.DeviceID, &c.Kind, &c.OperationID, &c.OperationDigest, &c.Payload, &c.Signature,
		&issued, &expires, &c.State, &delivered, &acked, &c.Result, &c.Message); err != nil {
		return c, err
	}
	var err error
	if c.IssuedAt, err = parseTime(issued); err != nil {
		return c, err
	}
	if c.ExpiresAt, err = parseTime(expires); err != nil {
		return c, err
	}
	if c.DeliveredAt, err = parseNullTime(delivered); err != nil {
		return c, err
	}
	c.AckedAt, err = parseNullTime(acked)
	return c, err
}

func queryCommands(ctx context.Context, q interface {
	QueryContext(context.Context, string, ...any) (*sql.Rows, error)
}, where string, args ...any) ([]Command, error) {
	rows, err := q.QueryContext(ctx, `SELECT `+commandColumns+` FROM device_commands WHERE `+where+` ORDER BY issued_at, id`, args...)
	if err != nil {
		return nil, fmt.Errorf("reading commands: %w", err)
	}
	defer rows.Close()
	var out []Command
	for rows.Next() {
		c, err := scanCommand(rows)
		if err != nil {
			return nil, fmt.Errorf("reading commands: %w", err)
		}
		out = append(out, c)
	}
	return out, rows.Err()
}

// PendingCommands implements CommandStore.
func (s *SQLite) PendingCommands(ctx context.Context, deviceID string, now time.Time, rec AuditRecord) ([]Command, error) {
	var out []Command
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		cs, err := queryCommands(ctx, tx, `device_id = ? AND state <> ? AND expires_at > ?`,
			deviceID, CommandAcknowledged, formatTime(now))
		if err != nil {
			return err
		}
		for i, c := range cs {
			if c.State != CommandQueued {
				continue
			}
			if _, err := tx.ExecContext(ctx, `UPDATE device_commands SET state = ?, delivered_at = ? WHERE id = ?`,
				CommandDelivered, formatTime(now), c.ID); err != nil {
				return fmt.Errorf("marking command %s delivered: %w", c.ID, err)
			}
			cs[i].State, cs[i].DeliveredAt = CommandDelivered, now
			r := rec
			r.ParamsDigest = c.OperationDigest
			if _, err := s.appendAudit(ctx, tx, r); err != nil {
				return err
			}
		}
		out = cs
		return nil
	})
	return out, err
}

// AckCommand implements CommandStore.
func (s *SQLite) AckCommand(ctx context.Context, deviceID, cmdID, result, message string, at time.Time, rec AuditRecord) (Command, error) {
	var out Command
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		c, err := scanCommand(tx.QueryRowContext(ctx, `SELECT `+commandColumns+` FROM device_commands WHERE id = ? AND device_id = ?`, cmdID, deviceID))
		if errors.Is(err, sql.ErrNoRows) {
			return fmt.Errorf("command %s of device %s: %w", cmdID, deviceID, ErrNotFound)
		}
		if err != nil {
			return fmt.Errorf("reading command %s: %w", cmdID, err)
		}
		if c.State == CommandAcknowledged {
			return fmt.Errorf("command %s: %w", cmdID, ErrCommandAcknowledged)
		}
		if _, err := tx.ExecContext(ctx, `UPDATE device_commands SET state = ?, delivered_at = COALESCE(delivered_at, ?),
			acked_at = ?, result = ?, message = ? WHERE id = ?`,
			CommandAcknowledged, formatTime(at), formatTime(at), result, message, cmdID); err != nil {
			return fmt.Errorf("acknowledging command %s: %w", cmdID, err)
		}
		if c.DeliveredAt.IsZero() {
			c.DeliveredAt = at
		}
		c.State, c.AckedAt, c.Result, c.Message = CommandAcknowledged, at, result, message
		rec.ParamsDigest = c.OperationDigest
		if _, err := s.appendAudit(ctx, tx, rec); err != nil {
			return err
		}
		out = c
		return nil
	})
	return out, err
}

// Commands implements CommandStore.
func (s *SQLite) Commands(ctx context.Context, deviceID string) ([]Command, error) {
	return queryCommands(ctx, s.db, `device_id = ?`, deviceID)
}
