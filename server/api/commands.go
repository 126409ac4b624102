package api

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/kiwistack/endpoint/enroll/protocol"
	"github.com/kiwistack/endpoint/server/store"
)

// Reasons of the device command endpoints.
const (
	// ReasonUnknownCommand answers an acknowledgement of a command the
	// device does not have.
	ReasonUnknownCommand = "unknown_command"
	// ReasonCommandAcknowledged answers a second acknowledgement.
	ReasonCommandAcknowledged = "command_acknowledged"
)

// Audit results of device commands; their entries name the operation
// "device_command" and carry the approved operation's digest.
const (
	resultCommandQueued    = "command_queued"
	resultCommandDelivered = "command_delivered"
	resultCommandAcked     = "command_acknowledged"
	auditDeviceCommand     = "device_command"
)

// maxAckMessage bounds the stored message of an acknowledgement.
const maxAckMessage = 1000

// commandKeyText is the command key as AgentConfig carries it, "" without
// one.
func (s *Server) commandKeyText() string {
	if s.cfg.CommandKey == nil {
		return ""
	}
	return protocol.EncodeCommandKey(s.cfg.CommandKey.Public().(ed25519.PublicKey))
}

// commandLifetime is how long a queued command is served: as long as a
// device certificate lives, the longest a revoked-but-unexpired
// certificate can still fetch it.
func (s *Server) commandLifetime() time.Duration { return s.deviceLifetime() }

// newCommand signs a command of kind for device deviceID, carrying the
// approved operation (opID, digest); nil without a command key.
func (s *Server) newCommand(deviceID, kind, opID, digest string) (*store.Command, error) {
	if s.cfg.CommandKey == nil {
		return nil, nil
	}
	b := make([]byte, 16)
	if _, err := rand.Read(b); err != nil {
		return nil, err
	}
	now := s.cfg.Now().UTC().Truncate(time.Second)
	exp := now.Add(s.commandLifetime())
	c := protocol.Command{Version: 1, ID: "cmd-" + base64.RawURLEncoding.EncodeToString(b), Tenant: s.cfg.Tenant,
		DeviceID: deviceID, Kind: kind, OperationID: opID, OperationDigest: digest,
		IssuedAt: protocol.FormatTimestamp(now), ExpiresAt: protocol.FormatTimestamp(exp)}
	sc, err := protocol.SignCommand(s.cfg.CommandKey, c)
	if err != nil {
		return nil, fmt.Errorf("signing the %s command: %w", kind, err)
	}
	return &store.Command{ID: c.ID, DeviceID: deviceID, Kind: kind, OperationID: opID, OperationDigest: digest,
		Payload: sc.Payload, Signature: sc.Signature, IssuedAt: now, ExpiresAt: exp, State: store.CommandQueued}, nil
}

// commandDevice authenticates a command request (authDevice): unlike the
// check-in, a locked, wiped or revoked device is accepted, since these two
// endpoints are the only ones its certificate still opens.
func (s *Server) commandDevice(r *http.Request) (string, *apiError) {
	ad, e := s.authDevice(r, s.cfg.Now(), deviceAuth{inactive: true})
	if e != nil {
		return "", e
	}
	return ad.id, nil
}

// handleDeviceCommands answers GET /v1/device/commands: the device's
// unacknowledged, unexpired commands, signed; serving a queued one marks it
// delivered, with an audit entry.
func (s *Server) handleDeviceCommands(w http.ResponseWriter, r *http.Request) {
	id, e := s.commandDevice(r)
	if e != nil {
		s.fail(w, r, e)
		return
	}
	now := s.cfg.Now()
	cs, err := s.cfg.Store.PendingCommands(r.Context(), id, now,
		store.AuditRecord{Time: now, Operation: auditDeviceCommand, Result: resultCommandDelivered})
	if err != nil {
		s.fail(w, r, reject(http.StatusInternalServerError, ReasonInternal, "the commands could not be read; try again later", err))
		return
	}
	out := protocol.CommandList{Commands: []protocol.SignedCommand{}}
	for _, c := range cs {
		out.Commands = append(out.Commands, protocol.SignedCommand{Payload: c.Payload, Signature: c.Signature})
	}
	writeJSON(w, http.StatusOK, out)
}

// handleCommandAck answers POST /v1/device/commands/{id}/ack: the device
// reports the result of one of its commands, once.
func (s *Server) handleCommandAck(w http.ResponseWriter, r *http.Request) {
	id, e := s.commandDevice(r)
	if e != nil {
		s.fail(w, r, e)
		return
	}
	var ack protocol.CommandAck
	if e := s.readJSON(r, &ack); e != nil {
		s.fail(w, r, e)
		return
	}
	if ack.Result != protocol.AckDone && ack.Result != protocol.AckFailed {
		s.fail(w, r, reject(http.StatusBadRequest, protocol.ReasonMalformed, "result must be done or failed", nil))
		return
	}
	if len(ack.Message) > maxAckMessage {
		ack.Message = ack.Message[:maxAckMessage]
	}
	now := s.cfg.Now()
	c, err := s.cfg.Store.AckCommand(r.Context(), id, r.PathValue("id"), ack.Result, ack.Message, now,
		store.AuditRecord{Time: now, Operation: auditDeviceCommand, Result: resultCommandAcked, Reason: ack.Result})
	switch {
	case errors.Is(err, store.ErrNotFound):
		s.fail(w, r, reject(http.StatusNotFound, ReasonUnknownCommand, "this device has no command with that id", err))
		return
	case errors.Is(err, store.ErrCommandAcknowledged):
		s.fail(w, r, reject(http.StatusConflict, ReasonCommandAcknowledged, "the command was acknowledged before", err))
		return
	case err != nil:
		s.fail(w, r, reject(http.StatusInternalServerError, ReasonInternal, "the acknowledgement could not be recorded; try again later", err))
		return
	}
	lvl := s.log.Info
	if ack.Result == protocol.AckFailed {
		lvl = s.log.Warn
	}
	lvl("device command acknowledged", "device", id, "command", c.ID, "kind", c.Kind, "operation", c.OperationID, "result", ack.Result)
	w.WriteHeader(http.StatusNoContent)
}
