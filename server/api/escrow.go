package api

import (
	"context"
	"crypto/ecdh"
	"crypto/rand"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"net/http"
	"os"
	"time"

	"github.com/kiwistack/endpoint/enroll/protocol"
	"github.com/kiwistack/endpoint/internal/atomicfile"
	"github.com/kiwistack/endpoint/internal/escrow"
	"github.com/kiwistack/endpoint/server/store"
)

// Disk recovery-key escrow (docs/disk-escrow.md): POST
// /v1/device/disk-escrow stores a recovery key the device sealed to the
// tenant's escrow public key; the signed read_recovery_key operation
// releases it, re-sealed to the requester's one-time key, at GET
// /v1/operations/{id}/recovery-key, and marks it read so that the
// device's next check-in tells the agent to rotate it.

// Reasons of disk escrow.
const (
	// ReasonNoEscrow answers an escrow when the API has no escrow key,
	// and a read_recovery_key of a device that escrowed no key.
	ReasonNoEscrow = "no_escrow"
	// ReasonEscrowUnreadable answers a sealed key that does not open
	// with the escrow key for this tenant, device and volume (tampered,
	// or sealed to another key or binding).
	ReasonEscrowUnreadable = "escrow_unreadable"
	// ReasonNotReleased answers a recovery-key read of an operation that
	// is not an applied read_recovery_key.
	ReasonNotReleased = "not_released"
)

// Audit result of a stored escrow; its entries name the operation
// "disk_escrow" and carry the escrow id as the reason.
const (
	auditDiskEscrow = "disk_escrow"
	resultEscrowed  = "escrowed"
)

// escrowIDBytes is the length of an escrow id before encoding.
const escrowIDBytes = 16

// LoadOrCreateEscrowKey reads the tenant's escrow private key (X25519,
// PKCS #8 PEM) from path, or generates one there (0600) the first time.
// Its public key goes into every AgentConfig; whoever holds the file can
// read every escrowed key, so it stays with the tenant's API (its state
// directory), never on a laptop nor with KiwiStack's operators. Losing it
// loses every escrowed key (the agents escrow new ones only after a read).
func LoadOrCreateEscrowKey(path string) (*escrow.PrivateKey, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		k, err := escrow.GenerateKey()
		if err != nil {
			return nil, err
		}
		ek, err := ecdh.X25519().NewPrivateKey(k.Bytes())
		if err != nil {
			return nil, fmt.Errorf("encoding the escrow key: %w", err)
		}
		der, err := x509.MarshalPKCS8PrivateKey(ek)
		if err != nil {
			return nil, fmt.Errorf("encoding the escrow key: %w", err)
		}
		if err := atomicfile.Create(path, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), 0o600); err != nil {
			return nil, fmt.Errorf("writing the escrow key: %w", err)
		}
		return k, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading the escrow key: %w", err)
	}
	blk, _ := pem.Decode(b)
	if blk == nil || blk.Type != "PRIVATE KEY" {
		return nil, fmt.Errorf("escrow key %s: want a PEM PRIVATE KEY block", path)
	}
	k, err := x509.ParsePKCS8PrivateKey(blk.Bytes)
	if err != nil {
		return nil, fmt.Errorf("escrow key %s: %w", path, err)
	}
	ek, ok := k.(*ecdh.PrivateKey)
	if !ok || ek.Curve() != ecdh.X25519() {
		return nil, fmt.Errorf("escrow key %s: want an X25519 key, not %T", path, k)
	}
	return escrow.ParsePrivateKey(ek.Bytes())
}

// initDiskEscrow registers the escrow routes.
func (s *Server) initDiskEscrow() {
	s.mux.HandleFunc("POST /v1/device/disk-escrow", s.handleDiskEscrow)
	s.mux.HandleFunc("GET /v1/operations/{id}/recovery-key", s.handleRecoveryKey)
}

// diskConfig is device id's disk configuration for its AgentConfig: the
// escrow public key, and the escrow to rotate when its current key was
// read. nil without an escrow key.
func (s *Server) diskConfig(ctx context.Context, id string) *protocol.DiskConfig {
	if s.cfg.EscrowKey == nil {
		return nil
	}
	c := &protocol.DiskConfig{EscrowKey: s.cfg.EscrowKey.Public()}
	e, err := s.cfg.Store.CurrentDiskEscrow(ctx, id)
	switch {
	case err == nil && !e.ReadAt.IsZero():
		c.RotateEscrow = e.ID
	case err != nil && !errors.Is(err, store.ErrNotFound):
		s.log.Error("reading the device's disk escrow; no rotation asked this time", "device", id, "err", err)
	}
	return c
}

// handleDiskEscrow is POST /v1/device/disk-escrow: an active device's
// certificate, and a sealed key that opens with the escrow key for this
// tenant, this device and the named volume. Anything else changes nothing.
func (s *Server) handleDiskEscrow(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	id, e := s.commandDevice(r)
	if e == nil {
		if d, err := s.cfg.Store.DeviceByID(ctx, id); err != nil || d.Status != store.StatusActive {
			e = reject(http.StatusForbidden, ReasonDeviceInactive, "only an active device escrows a recovery key", err)
		}
	}
	if e != nil {
		s.fail(w, r, e)
		return
	}
	if s.cfg.EscrowKey == nil {
		s.fail(w, r, reject(http.StatusConflict, ReasonNoEscrow, "this API escrows no disk recovery keys (no escrow key configured)", nil))
		return
	}
	var req protocol.DiskEscrowRequest
	if e := s.readJSON(r, &req); e != nil {
		s.fail(w, r, e)
		return
	}
	if err := req.Validate(); err != nil {
		s.fail(w, r, protocolError(err))
		return
	}
	if _, err := s.cfg.EscrowKey.Open(req.Sealed, escrow.Binding{Tenant: s.cfg.Tenant, DeviceID: id, Volume: req.Volume}); err != nil {
		s.fail(w, r, reject(http.StatusBadRequest, ReasonEscrowUnreadable,
			"the sealed recovery key does not open with this tenant's escrow key for this device and volume; the agent re-seals it to the escrow key of its next check-in", err))
		return
	}
	b := make([]byte, escrowIDBytes)
	_, _ = rand.Read(b)
	now := s.cfg.Now().UTC().Truncate(time.Second)
	newID := "esc-" + base64.RawURLEncoding.EncodeToString(b)
	rec, err := s.cfg.Store.AddDiskEscrow(ctx, store.DiskEscrow{ID: newID, DeviceID: id,
		Volume: req.Volume, KeySlot: req.KeySlot, Sealed: req.Sealed, Replaces: req.Replaces, EscrowedAt: now})
	switch {
	case errors.Is(err, store.ErrNotFound):
		s.fail(w, r, reject(http.StatusBadRequest, protocol.ReasonMalformed, "replaces names no escrow of this tenant", err))
		return
	case errors.Is(err, store.ErrExists):
		s.fail(w, r, reject(http.StatusConflict, ReasonEscrowUnreadable, "this sealed key is escrowed for another device", err))
		return
	case err != nil:
		s.fail(w, r, reject(http.StatusInternalServerError, ReasonInternal, "the recovery key could not be stored; try again later", err))
		return
	}
	if rec.ID == newID { // not a re-post of a stored key
		if _, err := s.cfg.Store.AppendAudit(ctx, store.AuditRecord{Time: now, Operation: auditDiskEscrow,
			Result: resultEscrowed, Reason: rec.ID}); err != nil {
			s.log.Error("appending the audit entry of a disk escrow", "device", id, "escrow", rec.ID, "err", err)
		}
	}
	s.log.Info("disk recovery key escrowed", "device", id, "escrow", rec.ID, "volume", rec.Volume, "slot", rec.KeySlot, "replaces", rec.Replaces)
	writeJSON(w, http.StatusOK, protocol.DiskEscrowResponse{EscrowID: rec.ID})
}

// checkReadRecoveryKey checks a read_recovery_key request: the device
// exists, has an escrowed key that opens with the escrow key (so that a
// tampered row is refused before anyone signs), and recipient_key is a
// public key.
func checkReadRecoveryKey(ctx context.Context, s *Server, req *protocol.OperationRequest) *apiError {
	if _, err := escrow.ParsePublicKey(req.Params[protocol.ParamRecipientKey]); err != nil {
		return reject(http.StatusBadRequest, ReasonInvalidParams,
			"recipient_key must be a one-time public key (x25519:…); kiwistack-enroll admin recovery-key makes one", err)
	}
	_, e := s.openEscrow(ctx, req.Params[protocol.ParamDeviceID])
	return e
}

// openEscrow reads and opens device id's current escrowed key.
func (s *Server) openEscrow(ctx context.Context, id string) (*escrowedKey, *apiError) {
	if s.cfg.EscrowKey == nil {
		return nil, reject(http.StatusConflict, ReasonNoEscrow, "this API escrows no disk recovery keys (no escrow key configured)", nil)
	}
	e, err := s.cfg.Store.CurrentDiskEscrow(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		return nil, reject(http.StatusNotFound, ReasonNoEscrow,
			fmt.Sprintf("device %s has escrowed no recovery key; kiwistack-agent status on it shows why", id), err)
	}
	if err != nil {
		return nil, reject(http.StatusInternalServerError, ReasonInternal, "the escrowed key could not be read; try again later", err)
	}
	k, err := s.cfg.EscrowKey.Open(e.Sealed, escrow.Binding{Tenant: s.cfg.Tenant, DeviceID: id, Volume: e.Volume})
	if err != nil {
		return nil, reject(http.StatusConflict, ReasonEscrowUnreadable,
			fmt.Sprintf("escrow %s of device %s does not open with the tenant's escrow key (tampered, or the key file was replaced); nothing was changed", e.ID, id), err)
	}
	return &escrowedKey{rec: e, key: k}, nil
}

// escrowedKey is an escrow row and its opened key.
type escrowedKey struct {
	rec store.DiskEscrow
	key escrow.RecoveryKey
}

// releaseEffect is read_recovery_key's effect: the device's current key
// re-sealed to the request's recipient key, bound to the operation. ek is
// read before the transaction.
func (s *Server) releaseEffect(opID string, p map[string]string, ek *escrowedKey) (*store.Effect, string, error) {
	if ek == nil || ek.rec.DeviceID != p[protocol.ParamDeviceID] {
		return nil, "", fmt.Errorf("read_recovery_key %s: the escrowed key of device %s could not be opened", opID, p[protocol.ParamDeviceID])
	}
	sealed, err := escrow.SealRelease(p[protocol.ParamRecipientKey],
		escrow.Binding{Tenant: s.cfg.Tenant, DeviceID: ek.rec.DeviceID, Volume: opID}, ek.key)
	if err != nil {
		return nil, "", err
	}
	return &store.Effect{EscrowRelease: &store.EscrowRelease{OperationID: opID, EscrowID: ek.rec.ID, Sealed: sealed}},
		fmt.Sprintf("recovery key %s of device %s released to the requester's one-time key (kiwistack-enroll admin recovery-key shows it); the device rotates it at its next check-in",
			ek.rec.ID, ek.rec.DeviceID), nil
}

// handleRecoveryKey is GET /v1/operations/{id}/recovery-key: an applied
// read_recovery_key's release. It is sealed to the one-time key that the
// request named and every signer signed, so only the requester opens it.
func (s *Server) handleRecoveryKey(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	id := r.PathValue("id")
	op, _, err := s.cfg.Store.Operation(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		s.fail(w, r, reject(http.StatusNotFound, ReasonOperationNotFound, "no operation has this id; list them with kiwistack-enroll admin list", err))
		return
	}
	if err != nil {
		s.fail(w, r, reject(http.StatusInternalServerError, ReasonInternal, "the operation could not be read; try again later", err))
		return
	}
	rel, err := s.cfg.Store.EscrowRelease(ctx, id)
	if errors.Is(err, store.ErrNotFound) || op.Operation != protocol.OpReadRecoveryKey {
		s.fail(w, r, reject(http.StatusConflict, ReasonNotReleased,
			fmt.Sprintf("operation %s is a %s in state %s, not an applied read_recovery_key; sign it first (kiwistack-enroll admin sign)", id, op.Operation, op.State), err))
		return
	}
	if err != nil {
		s.fail(w, r, reject(http.StatusInternalServerError, ReasonInternal, "the release could not be read; try again later", err))
		return
	}
	e, err := s.cfg.Store.DiskEscrow(ctx, rel.EscrowID)
	if err != nil {
		s.fail(w, r, reject(http.StatusInternalServerError, ReasonInternal, "the escrow could not be read; try again later", err))
		return
	}
	writeJSON(w, http.StatusOK, protocol.RecoveryKeyRelease{Operation: id, DeviceID: e.DeviceID, EscrowID: e.ID,
		Volume: e.Volume, KeySlot: e.KeySlot, Sealed: rel.Sealed})
}
