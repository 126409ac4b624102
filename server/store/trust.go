package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"
)

// Kinds of trust list entries.
const (
	// TrustKindCertificate trusts exactly one administrator certificate.
	TrustKindCertificate = "certificate"
	// TrustKindCA trusts the certificates a CA root issued.
	TrustKindCA = "ca"
)

// TrustEntry is one entry of the tenant's trust list (bring your own
// certificate, seed Z7): a certificate trusted as a signer, or a CA root
// whose certificates are, beside the tenant intermediate.
type TrustEntry struct {
	// ID names the entry: the first 16 hex characters of DERSHA256.
	ID string
	// Kind is TrustKindCertificate or TrustKindCA.
	Kind string
	// PEM is the certificate, one PEM block.
	PEM string
	// DERSHA256 is the hex SHA-256 of the certificate's DER.
	DERSHA256 string
	// AddedAt is when the entry was added; the store's clock when zero.
	AddedAt time.Time
	// AddedBy names who added it ("operator" for the CLI at the server).
	AddedBy string
	// Note is free text for people.
	Note string
}

// TrustStore keeps the trust list. A signer an entry admits is recorded in
// the roster under its pseudo-serial (protocol.BYOCSerial) and bound to the
// entry, so that the roster's rules (pinned key, burn) apply to it as to a
// YubiKey.
type TrustStore interface {
	// AddTrustEntry stores e, the roster row of its signer when signer is
	// set (a certificate entry), and appends rec, in one transaction;
	// ErrExists if the certificate, or the signer's serial or key, is known.
	AddTrustEntry(ctx context.Context, e TrustEntry, signer *RosterEntry, rec AuditRecord) (TrustEntry, error)
	// TrustEntries returns the entries, oldest first.
	TrustEntries(ctx context.Context) ([]TrustEntry, error)
	// RegisterTrustSigner records signer in the roster, bound to the entry
	// id, unless a roster row with its serial exists (then it does nothing:
	// the roster's checks decide). ErrNotFound if the entry is gone,
	// ErrExists if the key is in the roster under another serial.
	RegisterTrustSigner(ctx context.Context, id string, signer RosterEntry) error
	// RemoveTrustEntry deletes entry id, burns at at every roster row bound
	// to it and appends rec, in one transaction, and returns the burned
	// serials; ErrNotFound if unknown.
	RemoveTrustEntry(ctx context.Context, id string, at time.Time, rec AuditRecord) ([]uint32, error)
}

// insertRoster inserts e in the roster within tx.
func (s *SQLite) insertRoster(ctx context.Context, tx *sql.Tx, e RosterEntry) error {
	if e.Serial == 0 || e.Admin == "" || e.Role == "" || e.SPKISHA256 == "" {
		return errors.New("adding roster entry: serial, admin, role and spki_sha256 are required")
	}
	if e.Attestation == nil {
		e.Attestation = []byte{}
	}
	_, err := tx.ExecContext(ctx, `INSERT INTO roster (serial, admin, role, spki_sha256, attestation, added_at)
		VALUES (?, ?, ?, ?, ?, ?)`, e.Serial, e.Admin, e.Role, e.SPKISHA256, e.Attestation, formatTime(s.orNow(e.AddedAt)))
	if err != nil {
		return mapErr(err, fmt.Sprintf("adding roster entry %d", e.Serial))
	}
	return nil
}

// AddTrustEntry implements TrustStore.
func (s *SQLite) AddTrustEntry(ctx context.Context, e TrustEntry, signer *RosterEntry, rec AuditRecord) (TrustEntry, error) {
	if e.ID == "" || e.PEM == "" || e.DERSHA256 == "" || (e.Kind != TrustKindCertificate && e.Kind != TrustKindCA) {
		return e, errors.New("adding trust entry: id, kind, pem and der_sha256 are required")
	}
	e.AddedAt = s.orNow(e.AddedAt).UTC()
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `INSERT INTO trust_list (id, kind, pem, der_sha256, added_at, added_by, note)
			VALUES (?, ?, ?, ?, ?, ?, ?)`, e.ID, e.Kind, e.PEM, e.DERSHA256, formatTime(e.AddedAt), e.AddedBy, e.Note); err != nil {
			return mapErr(err, "adding trust entry "+e.ID)
		}
		if signer != nil {
			if err := s.bindSigner(ctx, tx, e.ID, *signer); err != nil {
				return err
			}
		}
		_, err := s.appendAudit(ctx, tx, rec)
		return err
	})
	return e, err
}

// bindSigner inserts signer in the roster and binds it to entry id.
func (s *SQLite) bindSigner(ctx context.Context, tx *sql.Tx, id string, signer RosterEntry) error {
	if err := s.insertRoster(ctx, tx, signer); err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO trust_signers (serial, entry_id) VALUES (?, ?)`, signer.Serial, id); err != nil {
		return mapErr(err, fmt.Sprintf("binding signer %d to trust entry %s", signer.Serial, id))
	}
	return nil
}

// TrustEntries implements TrustStore.
func (s *SQLite) TrustEntries(ctx context.Context) ([]TrustEntry, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT id, kind, pem, der_sha256, added_at, added_by, note FROM trust_list ORDER BY added_at, id`)
	if err != nil {
		return nil, fmt.Errorf("listing trust list: %w", err)
	}
	defer rows.Close()
	var out []TrustEntry
	for rows.Next() {
		var e TrustEntry
		var added string
		if err := rows.Scan(&e.ID, &e.Kind, &e.PEM, &e.DERSHA256, &added, &e.AddedBy, &e.Note); err != nil {
			return nil, fmt.Errorf("listing trust list: %w", err)
		}
		if e.AddedAt, err = parseTime(added); err != nil {
			return nil, fmt.Errorf("listing trust list: %w", err)
		}
		out = append(out, e)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("listing trust list: %w", err)
	}
	return out, nil
}

// RegisterTrustSigner implements TrustStore.
func (s *SQLite) RegisterTrustSigner(ctx context.Context, id string, signer RosterEntry) error {
	return s.inTx(ctx, func(tx *sql.Tx) error {
		var n int
		if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM roster WHERE serial = ?`, signer.Serial).Scan(&n); err != nil {
			return fmt.Errorf("registering signer %d: %w", signer.Serial, err)
		}
		if n > 0 {
			return nil
		}
		if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM trust_list WHERE id = ?`, id).Scan(&n); err != nil {
			return fmt.Errorf("registering signer %d: %w", signer.Serial, err)
		}
		if n == 0 {
			return fmt.Errorf("registering signer %d: trust entry %s: %w", signer.Serial, id, ErrNotFound)
		}
		return s.bindSigner(ctx, tx, id, signer)
	})
}

// RemoveTrustEntry implements TrustStore.
func (s *SQLite) RemoveTrustEntry(ctx context.Context, id string, at time.Time, rec AuditRecord) ([]uint32, error) {
	var burned []uint32
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		burned = nil
		res, err := tx.ExecContext(ctx, `DELETE FROM trust_list WHERE id = ?`, id)
		if err != nil {
			return fmt.Errorf("removing trust entry %s: %w", id, err)
		}
		if n, err := res.RowsAffected(); err != nil || n == 0 {
			return fmt.Errorf("removing trust entry %s: %w", id, ErrNotFound)
		}
		rows, err := tx.QueryContext(ctx, `SELECT serial FROM trust_signers WHERE entry_id = ? ORDER BY serial`, id)
		if err != nil {
			return fmt.Errorf("removing trust entry %s: %w", id, err)
		}
		for rows.Next() {
			var serial uint32
			if err := rows.Scan(&serial); err != nil {
				rows.Close()
				return fmt.Errorf("removing trust entry %s: %w", id, err)
			}
			burned = append(burned, serial)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return fmt.Errorf("removing trust entry %s: %w", id, err)
		}
		for _, serial := range burned {
			if _, err := tx.ExecContext(ctx, `UPDATE roster SET burned = 1, burned_at = COALESCE(burned_at, ?) WHERE serial = ?`,
				formatTime(s.orNow(at)), serial); err != nil {
				return fmt.Errorf("burning signer %d of trust entry %s: %w", serial, id, err)
			}
		}
		_, err = s.appendAudit(ctx, tx, rec)
		return err
	})
	return burned, err
}
