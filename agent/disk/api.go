package disk

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"

	"github.com/kiwistack/endpoint/agent/enrollment"
	"github.com/kiwistack/endpoint/enroll/protocol"
)

// API is the tenant API's escrow endpoint as the controller uses it.
type API interface {
	// Escrow stores a sealed key and returns its escrow id.
	Escrow(ctx context.Context, rec *enrollment.Record, req protocol.DiskEscrowRequest) (string, error)
}

// APIError is an API refusal (enrollment.Record.Call).
type APIError = enrollment.APIError

// HTTPAPI reaches the API over mutual TLS with the device certificate,
// trusting only the tenant root.
type HTTPAPI struct{}

// Escrow implements API.
func (HTTPAPI) Escrow(ctx context.Context, rec *enrollment.Record, req protocol.DiskEscrowRequest) (string, error) {
	body, err := json.Marshal(req)
	if err != nil {
		return "", err
	}
	var out protocol.DiskEscrowResponse
	if err := rec.Call(ctx, http.MethodPost, protocol.PathDeviceDiskEscrow, body, &out); err != nil {
		return "", fmt.Errorf("escrowing the recovery key: %w", err)
	}
	if !protocol.ValidEscrowID(out.EscrowID) {
		return "", errors.New("escrowing the recovery key: the api answered no escrow id")
	}
	return out.EscrowID, nil
}
