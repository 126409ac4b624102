package store

import (
	"context"
	"database/sql"
	"fmt"
	"time"
)

// RetiredIntermediate is a tenant intermediate that a rotate_intermediate
// replaced (seed D4 scenario 03): certificates it issued are no longer
// accepted, except to obtain a new one (POST /v1/device/reissue).
type RetiredIntermediate struct {
	// SHA256 is the SHA-256 (hex) of the certificate's DER.
	SHA256 string
	// Certificate is its PEM.
	Certificate string
	// RetiredAt is when the rotation applied.
	RetiredAt time.Time
	// OperationID is the rotate_intermediate that retired it.
	OperationID string
}

// IntermediateStore keeps the retired intermediates.
type IntermediateStore interface {
	// RetiredIntermediates returns the retired intermediates, oldest first.
	RetiredIntermediates(ctx context.Context) ([]RetiredIntermediate, error)
}

// RetiredIntermediates implements IntermediateStore.
func (s *SQLite) RetiredIntermediates(ctx context.Context) ([]RetiredIntermediate, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT sha256, certificate, retired_at, operation_id FROM retired_intermediates ORDER BY retired_at, sha256`)
	if err != nil {
		return nil, fmt.Errorf("reading retired intermediates: %w", err)
	}
	defer rows.Close()
	var out []RetiredIntermediate
	for rows.Next() {
		var r RetiredIntermediate
		var at string
		if err := rows.Scan(&r.SHA256, &r.Certificate, &at, &r.OperationID); err != nil {
			return nil, fmt.Errorf("reading retired intermediates: %w", err)
		}
		if r.RetiredAt, err = parseTime(at); err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("reading retired intermediates: %w", err)
	}
	return out, nil
}

// applyRetirement records r, retired by operation id, and marks the
// device certificates recorded without an issuer as its: before the first
// rotation there was no other intermediate.
func applyRetirement(ctx context.Context, tx *sql.Tx, id string, r RetiredIntermediate, now time.Time) error {
	if _, err := tx.ExecContext(ctx, `INSERT INTO retired_intermediates (sha256, certificate, retired_at, operation_id) VALUES (?, ?, ?, ?)`,
		r.SHA256, r.Certificate, formatTime(now), id); err != nil {
		return mapErr(err, "retiring intermediate "+r.SHA256)
	}
	if _, err := tx.ExecContext(ctx, `UPDATE device_certificates SET issuer_sha256 = ? WHERE issuer_sha256 = ''`, r.SHA256); err != nil {
		return fmt.Errorf("marking the retired intermediate's certificates: %w", err)
	}
	return nil
}
