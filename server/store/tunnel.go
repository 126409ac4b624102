package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/netip"
	"time"
)

// ErrPrefixFull reports a tunnel prefix with no free address left.
var ErrPrefixFull = errors.New("no free tunnel address")

// TunnelStore keeps what the WireGuard hub (server/hub) needs beyond the
// device records: each device's tunnel address and its revocation.
type TunnelStore interface {
	// TunnelAddress returns the tunnel address of device id, allocating
	// the lowest free one of prefix (past the network address and the
	// hub's, the first host) on first use. An address, once given, stays
	// the device's and is never given to another. ErrNotFound if the
	// device is unknown, ErrPrefixFull if prefix has no free address.
	TunnelAddress(ctx context.Context, id string, prefix netip.Prefix) (netip.Addr, error)
	// TunnelAddresses returns every allocated address by device id.
	TunnelAddresses(ctx context.Context) (map[string]netip.Addr, error)
	// RevokeDevice marks device id revoked at at with reason and appends
	// rec, in one transaction; it returns the device as it was before.
	// ErrNotFound if unknown or replaced; revoking a revoked device
	// succeeds again (a retry of a revocation whose CA step failed).
	RevokeDevice(ctx context.Context, id, reason string, at time.Time, rec AuditRecord) (Device, AuditEntry, error)
	// AddDeviceCertificate records a certificate of device id that the
	// device presented (a renewal step-ca made); recording a known serial
	// again does nothing. ErrNotFound if the device is unknown.
	AddDeviceCertificate(ctx context.Context, id string, c DeviceCertificate) error
}

// TunnelAddress implements TunnelStore.
func (s *SQLite) TunnelAddress(ctx context.Context, id string, prefix netip.Prefix) (netip.Addr, error) {
	prefix = prefix.Masked()
	var out netip.Addr
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		var have string
		err := tx.QueryRowContext(ctx, `SELECT address FROM tunnel_addresses WHERE device_id = ?`, id).Scan(&have)
		if err == nil {
			a, err := netip.ParseAddr(have)
			if err != nil {
				return fmt.Errorf("stored tunnel address %q: %w", have, err)
			}
			out = a
			return nil
		}
		if !errors.Is(err, sql.ErrNoRows) {
			return fmt.Errorf("reading tunnel address of %s: %w", id, err)
		}
		var n int
		if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM devices WHERE id = ?`, id).Scan(&n); err != nil {
			return fmt.Errorf("reading device %s: %w", id, err)
		}
		if n == 0 {
			return fmt.Errorf("tunnel address of device %s: %w", id, ErrNotFound)
		}
		used := map[netip.Addr]bool{}
		rows, err := tx.QueryContext(ctx, `SELECT address FROM tunnel_addresses`)
		if err != nil {
			return fmt.Errorf("reading tunnel addresses: %w", err)
		}
		for rows.Next() {
			var a string
			if err := rows.Scan(&a); err != nil {
				rows.Close()
				return fmt.Errorf("reading tunnel addresses: %w", err)
			}
			if p, err := netip.ParseAddr(a); err == nil {
				used[p] = true
			}
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return fmt.Errorf("reading tunnel addresses: %w", err)
		}
		// Skip the network address and the hub's (the first host).
		a := prefix.Addr().Next().Next()
		for ; a.IsValid() && prefix.Contains(a); a = a.Next() {
			if used[a] {
				continue
			}
			if a.Is4() && !prefix.Contains(a.Next()) {
				break // the IPv4 broadcast address
			}
			if _, err := tx.ExecContext(ctx, `INSERT INTO tunnel_addresses (device_id, address, assigned_at) VALUES (?, ?, ?)`,
				id, a.String(), formatTime(s.now())); err != nil {
				return mapErr(err, "allocating tunnel address of "+id)
			}
			out = a
			return nil
		}
		return fmt.Errorf("tunnel address of device %s in %s: %w", id, prefix, ErrPrefixFull)
	})
	return out, err
}

// TunnelAddresses implements TunnelStore.
func (s *SQLite) TunnelAddresses(ctx context.Context) (map[string]netip.Addr, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT device_id, address FROM tunnel_addresses`)
	if err != nil {
		return nil, fmt.Errorf("reading tunnel addresses: %w", err)
	}
	defer rows.Close()
	out := map[string]netip.Addr{}
	for rows.Next() {
		var id, a string
		if err := rows.Scan(&id, &a); err != nil {
			return nil, fmt.Errorf("reading tunnel addresses: %w", err)
		}
		p, err := netip.ParseAddr(a)
		if err != nil {
			return nil, fmt.Errorf("stored tunnel address %q: %w", a, err)
		}
		out[id] = p
	}
	return out, rows.Err()
}

// RevokeDevice implements TunnelStore.
func (s *SQLite) RevokeDevice(ctx context.Context, id, reason string, at time.Time, rec AuditRecord) (Device, AuditEntry, error) {
	at = s.orNow(at)
	var before Device
	var entry AuditEntry
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		d, err := oneDevice(ctx, tx, `d.id = ? AND d.status <> 'replaced'`, id)
		if err != nil {
			return fmt.Errorf("revoking device %s: %w", id, err)
		}
		before = d
		if _, err := tx.ExecContext(ctx, `UPDATE devices SET status = 'revoked', updated_at = ? WHERE id = ?`, formatTime(at), id); err != nil {
			return fmt.Errorf("revoking device %s: %w", id, err)
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO device_revocations (device_id, reason, revoked_at) VALUES (?, ?, ?)
			ON CONFLICT (device_id) DO NOTHING`, id, reason, formatTime(at)); err != nil {
			return fmt.Errorf("revoking device %s: %w", id, err)
		}
		entry, err = s.appendAudit(ctx, tx, rec)
		return err
	})
	if err != nil {
		return Device{}, AuditEntry{}, err
	}
	return before, entry, nil
}

// AddDeviceCertificate implements TunnelStore.
func (s *SQLite) AddDeviceCertificate(ctx context.Context, id string, c DeviceCertificate) error {
	if c.Serial == "" {
		return errors.New("recording device certificate: no serial")
	}
	_, err := s.db.ExecContext(ctx, `INSERT INTO device_certificates (serial, device_id, not_after, issued_at, issuer_sha256) VALUES (?, ?, ?, ?, ?)
		ON CONFLICT (serial) DO NOTHING`, c.Serial, id, formatTime(c.NotAfter), formatTime(s.orNow(c.IssuedAt)), c.Issuer)
	if err != nil {
		return mapErr(err, "recording certificate "+c.Serial+" of device "+id)
	}
	return nil
}
