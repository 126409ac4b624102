// Package devices lets the tenant's operator at the server manage the
// enrolled devices of a dev state directory (server/dev): it lists the
// device records, replaced ones included, allows the re-enrollment of a
// laptop and revokes a device (its record and every certificate at
// step-ca), writing an audit entry for each.
//
// It acts as the operator on the server (audit actor 0) and needs no
// YubiKey; it does not enroll or sign anything, does not touch the
// WireGuard interface (server/hub follows the store) and does not apply the
// authorization policy.
package devices

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/kiwistack/endpoint/internal/listing"
	"github.com/kiwistack/endpoint/server/dev"
	"github.com/kiwistack/endpoint/server/store"
)

// Bounds of a re-enrollment allowance.
const (
	// DefaultAllowance is how long an allowance lasts unless told.
	DefaultAllowance = 24 * time.Hour
	// MaxAllowance is the longest allowance.
	MaxAllowance = 7 * 24 * time.Hour
)

// AuditOperation is the audit operation of an allowance, the operation that
// a signed consent will use too; its actor is 0, the operator at the server.
const AuditOperation = "reenroll_consent"

// ErrNoState reports a state directory without a store.
var ErrNoState = dev.ErrNoState

// open opens the store of the state directory dir, which `kiwistack-api
// dev` created.
func open(ctx context.Context, dir string) (*store.SQLite, error) { return dev.OpenStore(ctx, dir) }

// ListEntry is one device record in the output of `devices list --json`
// (version 1 of that output: fields are only ever added).
type ListEntry struct {
	ID                  string `json:"id"`
	Tenant              string `json:"tenant"`
	HardwareFingerprint string `json:"hardware_fingerprint"`
	WireGuardPublicKey  string `json:"wireguard_public_key"`
	// Status is active, locked, revoked, wiped or replaced.
	Status string `json:"status"`
	// EnrolledBy is the serial of the YubiKey that signed the enrollment,
	// 0 for a laptop that claimed with a bootstrap token.
	EnrolledBy uint32 `json:"enrolled_by"`
	// ClaimedWith is the id of the bootstrap token an OEM laptop claimed
	// with (docs/oem-claim.md).
	ClaimedWith string `json:"claimed_with,omitempty"`
	// Replaces and ReplacedBy link the records of one laptop's
	// re-enrollments.
	Replaces   string `json:"replaces,omitempty"`
	ReplacedBy string `json:"replaced_by,omitempty"`
	// ReenrollUntil is the end of an unexpired re-enrollment allowance.
	ReenrollUntil *time.Time    `json:"reenroll_until,omitempty"`
	Certificates  []Certificate `json:"certificates"`
	CreatedAt     time.Time     `json:"created_at"`
	UpdatedAt     time.Time     `json:"updated_at"`
}

// Certificate is one certificate of a ListEntry.
type Certificate struct {
	// Serial is the serial number in hex.
	Serial   string    `json:"serial"`
	NotAfter time.Time `json:"not_after"`
	IssuedAt time.Time `json:"issued_at"`
}

// List writes the device records of the state directory dir to w, in the
// order they were created: a table, or with asJSON a JSON array of
// ListEntry.
func List(ctx context.Context, w io.Writer, dir string, asJSON bool) error {
	st, err := open(ctx, dir)
	if err != nil {
		return err
	}
	defer st.Close()
	ds, err := st.Devices(ctx)
	if err != nil {
		return err
	}
	now := time.Now()
	out := make([]ListEntry, 0, len(ds))
	for _, d := range ds {
		le := ListEntry{ID: d.ID, Tenant: d.Tenant, HardwareFingerprint: d.HardwareFingerprint, WireGuardPublicKey: d.WireGuardPublicKey,
			Status: d.Status, EnrolledBy: d.EnrolledBy, ClaimedWith: d.ClaimedWith, Replaces: d.Replaces, ReplacedBy: d.ReplacedBy,
			Certificates: []Certificate{}, CreatedAt: d.CreatedAt, UpdatedAt: d.UpdatedAt}
		for _, c := range d.Certificates {
			le.Certificates = append(le.Certificates, Certificate{Serial: c.Serial, NotAfter: c.NotAfter, IssuedAt: c.IssuedAt})
		}
		if d.Status != store.StatusReplaced {
			r, err := st.Reenrollment(ctx, d.HardwareFingerprint)
			switch {
			case err == nil && r.DeviceID == d.ID && now.Before(r.ExpiresAt):
				until := r.ExpiresAt
				le.ReenrollUntil = &until
			case err != nil && !errors.Is(err, store.ErrNotFound):
				return err
			}
		}
		out = append(out, le)
	}
	return listing.Write(w, asJSON, out, "no devices enrolled yet",
		"DEVICE\tSTATUS\tHARDWARE FINGERPRINT\tENROLLED BY\tENROLLED\tNOTE", func(tw io.Writer, e ListEntry) {
			note := ""
			switch {
			case e.ReplacedBy != "":
				note = "replaced by " + e.ReplacedBy
			case e.ReenrollUntil != nil:
				note = "re-enrollment allowed until " + e.ReenrollUntil.UTC().Format(time.RFC3339)
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%s\t%s\n", e.ID, e.Status, e.HardwareFingerprint, e.EnrolledBy,
				e.CreatedAt.UTC().Format(time.RFC3339), note)
		})
}

// AllowReenroll allows the laptop of device id in the state directory dir
// to enroll again within d (0 < d ≤ MaxAllowance), as the operator at the
// server, appends an audit entry, and tells w what to run at the laptop. An
// unknown or replaced device wraps store.ErrNotFound.
func AllowReenroll(ctx context.Context, w io.Writer, dir, id string, d time.Duration) error {
	if d <= 0 || d > MaxAllowance {
		return fmt.Errorf("allowing re-enrollment: --for %s: want more than 0 and at most %s", d, MaxAllowance)
	}
	st, err := open(ctx, dir)
	if err != nil {
		return err
	}
	defer st.Close()
	dv, err := st.DeviceByID(ctx, id)
	if err != nil {
		return fmt.Errorf("allowing re-enrollment: %w", err)
	}
	if dv.Status == store.StatusReplaced {
		return fmt.Errorf("allowing re-enrollment: device %s was replaced by %s; allow that one: %w", id, dv.ReplacedBy, store.ErrNotFound)
	}
	now := time.Now()
	until := now.Add(d).Truncate(time.Second)
	if err := st.AllowReenrollment(ctx, id, 0, until); err != nil {
		return err
	}
	if _, err := st.AppendAudit(ctx, store.AuditRecord{Time: now, Actor: 0, Operation: AuditOperation,
		ParamsDigest: AllowanceDigest(id, until), Result: "accepted"}); err != nil {
		return fmt.Errorf("re-enrollment of %s allowed, but its audit entry was not written: %w", id, err)
	}
	fmt.Fprintf(w, "allowed re-enrollment of %s (hardware %s) until %s\n", id, dv.HardwareFingerprint, until.UTC().Format(time.RFC3339))
	fmt.Fprintf(w, "next, at the laptop, before then: kiwistack-enroll enroll --reenroll --tenant %s --api URL --root-fingerprint HEX\n", dv.Tenant)
	fmt.Fprintf(w, "an administrator signs it with a YubiKey as for a first enrollment; %s is then replaced and its certificates revoked\n", id)
	return nil
}

// AllowanceDigest is the ParamsDigest of an allowance's audit entry: the
// SHA-256, base64url without padding, of the JSON object
// {"device_id":ID,"expires_at":RFC 3339 UTC}.
func AllowanceDigest(id string, until time.Time) string {
	b, _ := json.Marshal(struct {
		DeviceID  string `json:"device_id"`
		ExpiresAt string `json:"expires_at"`
	}{id, until.UTC().Format(time.RFC3339)})
	sum := sha256.Sum256(b)
	return base64.RawURLEncoding.EncodeToString(sum[:])
}
