package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"
)

// rowQuerier is a *sql.DB or *sql.Tx.
type rowQuerier interface {
	querier
	QueryRowContext(context.Context, string, ...any) *sql.Row
}

const operationColumns = `id, operation, tenant, params, document, nonce, digest, cancel_digest, policy, state, reason,
	created_at, expires_at, updated_at, applied_at, effect`

// scanOperation reads one operations row.
func scanOperation(r scanner) (Operation, error) {
	var op Operation
	var params string
	var created, expires, updated string
	var applied sql.NullString
	var pol string
	if err := r.Scan(&op.ID, &op.Operation, &op.Tenant, &params, &op.Document, &op.Nonce, &op.Digest, &op.CancelDigest,
		&pol, &op.State, &op.Reason, &created, &expires, &updated, &applied, &op.Effect); err != nil {
		return op, err
	}
	op.Policy = []byte(pol)
	if err := json.Unmarshal([]byte(params), &op.Params); err != nil {
		return op, fmt.Errorf("operation %s: stored params: %w", op.ID, err)
	}
	var err error
	if op.CreatedAt, err = parseTime(created); err != nil {
		return op, err
	}
	if op.ExpiresAt, err = parseTime(expires); err != nil {
		return op, err
	}
	if op.UpdatedAt, err = parseTime(updated); err != nil {
		return op, err
	}
	op.AppliedAt, err = parseNullTime(applied)
	return op, err
}

// CreateOperation implements OperationStore.
func (s *SQLite) CreateOperation(ctx context.Context, op Operation, rec AuditRecord) (Operation, AuditEntry, error) {
	if op.ID == "" || op.Operation == "" || op.Nonce == "" || op.Digest == "" || op.State == "" {
		return op, AuditEntry{}, errors.New("creating operation: id, operation, nonce, digest and state are required")
	}
	if op.Params == nil {
		op.Params = map[string]string{}
	}
	params, err := json.Marshal(op.Params)
	if err != nil {
		return op, AuditEntry{}, fmt.Errorf("creating operation %s: %w", op.ID, err)
	}
	op.CreatedAt = s.orNow(op.CreatedAt)
	op.UpdatedAt = op.CreatedAt
	var e AuditEntry
	err = s.inTx(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO operations (id, operation, tenant, params, document, nonce, digest, cancel_digest,
			policy, state, reason, created_at, expires_at, updated_at, effect) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, '')`,
			op.ID, op.Operation, op.Tenant, string(params), op.Document, op.Nonce, op.Digest, op.CancelDigest, string(op.Policy),
			op.State, op.Reason, formatTime(op.CreatedAt), formatTime(op.ExpiresAt), formatTime(op.UpdatedAt))
		if err != nil {
			return mapErr(err, "creating operation "+op.ID)
		}
		e, err = s.appendAudit(ctx, tx, rec)
		return err
	})
	return op, e, err
}

// operationTx reads an operation and its signatures with q.
func operationTx(ctx context.Context, q rowQuerier, id string) (Operation, []OperationSignature, error) {
	op, err := scanOperation(q.QueryRowContext(ctx, `SELECT `+operationColumns+` FROM operations WHERE id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return op, nil, fmt.Errorf("operation %s: %w", id, ErrNotFound)
	}
	if err != nil {
		return op, nil, fmt.Errorf("reading operation %s: %w", id, err)
	}
	rows, err := q.QueryContext(ctx, `SELECT seq, statement, kind, serial, admin, role, received_at, verified
		FROM operation_signatures WHERE operation_id = ? ORDER BY seq`, id)
	if err != nil {
		return op, nil, fmt.Errorf("reading signatures of operation %s: %w", id, err)
	}
	defer rows.Close()
	var sigs []OperationSignature
	for rows.Next() {
		var sg OperationSignature
		var received, verified string
		if err := rows.Scan(&sg.Seq, &sg.Statement, &sg.Kind, &sg.Serial, &sg.Admin, &sg.Role, &received, &verified); err != nil {
			return op, nil, fmt.Errorf("reading signatures of operation %s: %w", id, err)
		}
		if sg.ReceivedAt, err = parseTime(received); err != nil {
			return op, nil, err
		}
		sg.Verified = []byte(verified)
		sigs = append(sigs, sg)
	}
	if err := rows.Err(); err != nil {
		return op, nil, fmt.Errorf("reading signatures of operation %s: %w", id, err)
	}
	return op, sigs, nil
}

// Operation implements OperationStore.
func (s *SQLite) Operation(ctx context.Context, id string) (Operation, []OperationSignature, error) {
	return operationTx(ctx, s.db, id)
}

// Operations implements OperationStore.
func (s *SQLite) Operations(ctx context.Context, states []string, limit int) ([]Operation, error) {
	if limit <= 0 {
		return nil, nil
	}
	query := `SELECT ` + operationColumns + ` FROM operations`
	var args []any
	if len(states) > 0 {
		query += ` WHERE state IN (?` + strings.Repeat(`, ?`, len(states)-1) + `)`
		for _, st := range states {
			args = append(args, st)
		}
	}
	query += ` ORDER BY created_at DESC, id LIMIT ?`
	args = append(args, limit)
	return queryAll(ctx, s.db, "listing operations", scanOperation, query, args...)
}

// UpdateOperation implements OperationStore.
func (s *SQLite) UpdateOperation(ctx context.Context, id string, decide func(OperationSnapshot) (OperationUpdate, error)) (Operation, []OperationSignature, error) {
	var op Operation
	var sigs []OperationSignature
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		var err error
		if op, sigs, err = operationTx(ctx, tx, id); err != nil {
			return err
		}
		roster, err := rosterTx(ctx, tx)
		if err != nil {
			return err
		}
		up, err := decide(OperationSnapshot{Operation: op, Signatures: sigs, Roster: roster})
		if err != nil {
			return err
		}
		now := s.now()
		if sg := up.AddSignature; sg != nil {
			sg.Seq = len(sigs) + 1
			sg.ReceivedAt = s.orNow(sg.ReceivedAt)
			if sg.Verified == nil {
				sg.Verified = []byte("{}")
			}
			if _, err := tx.ExecContext(ctx, `INSERT INTO operation_signatures (operation_id, seq, statement, kind, serial, admin, role,
				received_at, verified) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`, id, sg.Seq, sg.Statement, sg.Kind, sg.Serial, sg.Admin, sg.Role,
				formatTime(sg.ReceivedAt), string(sg.Verified)); err != nil {
				return mapErr(err, "adding a signature to operation "+id)
			}
			sigs = append(sigs, *sg)
		}
		if up.State != "" && (up.State != op.State || up.Reason != op.Reason) {
			if up.State != op.State {
				var n int
				if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM operation_transitions WHERE operation_id = ?`, id).Scan(&n); err != nil {
					return fmt.Errorf("counting transitions of operation %s: %w", id, err)
				}
				if _, err := tx.ExecContext(ctx, `INSERT INTO operation_transitions (operation_id, seq, from_state, to_state, reason, at)
					VALUES (?, ?, ?, ?, ?, ?)`, id, n+1, op.State, up.State, up.Reason, formatTime(now)); err != nil {
					return fmt.Errorf("recording a transition of operation %s: %w", id, err)
				}
			}
			var applied any
			if up.State == "applied" {
				op.AppliedAt = now
				applied = formatTime(now)
				op.Effect = up.EffectText
			}
			if _, err := tx.ExecContext(ctx, `UPDATE operations SET state = ?, reason = ?, updated_at = ?, applied_at = ?, effect = ?
				WHERE id = ?`, up.State, up.Reason, formatTime(now), applied, op.Effect, id); err != nil {
				return fmt.Errorf("updating operation %s: %w", id, err)
			}
			op.State, op.Reason, op.UpdatedAt = up.State, up.Reason, now
		}
		if up.Effect != nil {
			if up.State != "applied" {
				return fmt.Errorf("operation %s: an effect is applied only with state applied", id)
			}
			if err := s.applyEffect(ctx, tx, id, *up.Effect, now); err != nil {
				return err
			}
		}
		for _, rec := range up.Audit {
			if _, err := s.appendAudit(ctx, tx, rec); err != nil {
				return err
			}
		}
		return nil
	})
	return op, sigs, err
}

// rosterTx reads the whole roster with q.
func rosterTx(ctx context.Context, q querier) ([]RosterEntry, error) {
	rows, err := q.QueryContext(ctx, `SELECT `+rosterColumns+` FROM roster ORDER BY serial`)
	if err != nil {
		return nil, fmt.Errorf("listing roster: %w", err)
	}
	defer rows.Close()
	var out []RosterEntry
	for rows.Next() {
		e, err := scanRoster(rows)
		if err != nil {
			return nil, fmt.Errorf("listing roster: %w", err)
		}
		out = append(out, e)
	}
	return out, rows.Err()
}

// applyEffect writes e inside tx.
func (s *SQLite) applyEffect(ctx context.Context, tx *sql.Tx, id string, e Effect, now time.Time) error {
	burn := func(serial uint32) error {
		res, err := tx.ExecContext(ctx, `UPDATE roster SET burned = 1, burned_at = COALESCE(burned_at, ?) WHERE serial = ?`, formatTime(now), serial)
		if err != nil {
			return fmt.Errorf("burning key %d: %w", serial, err)
		}
		if n, err := res.RowsAffected(); err != nil || n == 0 {
			return fmt.Errorf("burning key %d: %w", serial, ErrNotFound)
		}
		return nil
	}
	if e.BurnSerial != 0 {
		if err := burn(e.BurnSerial); err != nil {
			return err
		}
	}
	if e.RemoveSerial != 0 {
		if err := burn(e.RemoveSerial); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO roster_removals (serial, operation_id, removed_at) VALUES (?, ?, ?)`,
			e.RemoveSerial, id, formatTime(now)); err != nil {
			return mapErr(err, fmt.Sprintf("removing key %d", e.RemoveSerial))
		}
	}
	if r := e.AddRoster; r != nil {
		att := r.Attestation
		if att == nil {
			att = []byte{}
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO roster (serial, admin, role, spki_sha256, attestation, added_at)
			VALUES (?, ?, ?, ?, ?, ?)`, r.Serial, r.Admin, r.Role, r.SPKISHA256, att, formatTime(now)); err != nil {
			return mapErr(err, fmt.Sprintf("adding roster entry %d", r.Serial))
		}
	}
	if e.DeviceID != "" {
		res, err := tx.ExecContext(ctx, `UPDATE devices SET status = ?, updated_at = ? WHERE id = ? AND status <> 'replaced'`,
			e.DeviceStatus, formatTime(now), e.DeviceID)
		if err != nil {
			return fmt.Errorf("setting device %s %s: %w", e.DeviceID, e.DeviceStatus, err)
		}
		if n, err := res.RowsAffected(); err != nil || n == 0 {
			return fmt.Errorf("setting device %s %s: %w", e.DeviceID, e.DeviceStatus, ErrNotFound)
		}
	}
	if e.Command != nil {
		if err := insertCommand(ctx, tx, *e.Command); err != nil {
			return err
		}
	}
	if e.ReenrollDevice != "" {
		var fp string
		err := tx.QueryRowContext(ctx, `SELECT hardware_fingerprint FROM devices WHERE id = ? AND status <> 'replaced'`, e.ReenrollDevice).Scan(&fp)
		if errors.Is(err, sql.ErrNoRows) {
			return fmt.Errorf("allowing re-enrollment: device %s: %w", e.ReenrollDevice, ErrNotFound)
		}
		if err != nil {
			return fmt.Errorf("allowing re-enrollment of %s: %w", e.ReenrollDevice, err)
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO reenrollments (hardware_fingerprint, device_id, allowed_by, allowed_at, expires_at)
			VALUES (?, ?, ?, ?, ?) ON CONFLICT (hardware_fingerprint) DO UPDATE SET
			device_id = excluded.device_id, allowed_by = excluded.allowed_by, allowed_at = excluded.allowed_at, expires_at = excluded.expires_at`,
			fp, e.ReenrollDevice, e.ReenrollBy, formatTime(now), formatTime(e.ReenrollUntil)); err != nil {
			return mapErr(err, "allowing re-enrollment of "+e.ReenrollDevice)
		}
	}
	if e.PolicyDocument != "" {
		if _, err := tx.ExecContext(ctx, `INSERT INTO policies (sha256, document, operation_id, applied_at) VALUES (?, ?, ?, ?)`,
			e.PolicySHA256, e.PolicyDocument, id, formatTime(now)); err != nil {
			return fmt.Errorf("recording the new policy: %w", err)
		}
	}
	if e.RetireIntermediate != nil {
		if err := applyRetirement(ctx, tx, id, *e.RetireIntermediate, now); err != nil {
			return err
		}
	}
	if e.EscrowRelease != nil {
		if err := applyEscrowRelease(ctx, tx, id, *e.EscrowRelease, now); err != nil {
			return err
		}
	}
	return nil
}

// CurrentPolicy implements OperationStore.
func (s *SQLite) CurrentPolicy(ctx context.Context) (string, string, error) {
	var doc, sum string
	err := s.db.QueryRowContext(ctx, `SELECT document, sha256 FROM policies ORDER BY version DESC LIMIT 1`).Scan(&doc, &sum)
	if errors.Is(err, sql.ErrNoRows) {
		return "", "", fmt.Errorf("current policy: %w", ErrNotFound)
	}
	if err != nil {
		return "", "", fmt.Errorf("reading the current policy: %w", err)
	}
	return doc, sum, nil
}
