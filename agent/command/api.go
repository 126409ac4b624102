package command

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"

	"github.com/kiwistack/endpoint/agent/enrollment"
	"github.com/kiwistack/endpoint/enroll/protocol"
)

// API is the tenant API's command endpoints as the controller uses them.
type API interface {
	// Commands fetches the device's pending commands.
	Commands(ctx context.Context, rec *enrollment.Record) ([]protocol.SignedCommand, error)
	// Ack reports the result of command id.
	Ack(ctx context.Context, rec *enrollment.Record, id string, ack protocol.CommandAck) error
}

// APIError is an API refusal (enrollment.Record.Call).
type APIError = enrollment.APIError

// HTTPAPI reaches the API over mutual TLS with the device certificate,
// trusting only the tenant root.
type HTTPAPI struct{}

func (HTTPAPI) do(ctx context.Context, rec *enrollment.Record, method, path string, body []byte, out any) error {
	return rec.Call(ctx, method, path, body, out)
}

// Commands implements API.
func (a HTTPAPI) Commands(ctx context.Context, rec *enrollment.Record) ([]protocol.SignedCommand, error) {
	var l protocol.CommandList
	if err := a.do(ctx, rec, http.MethodGet, protocol.PathDeviceCommands, nil, &l); err != nil {
		return nil, fmt.Errorf("fetching commands: %w", err)
	}
	return l.Commands, nil
}

// Ack implements API.
func (a HTTPAPI) Ack(ctx context.Context, rec *enrollment.Record, id string, ack protocol.CommandAck) error {
	body, err := json.Marshal(ack)
	if err != nil {
		return err
	}
	if err := a.do(ctx, rec, http.MethodPost, protocol.PathDeviceCommands+"/"+url.PathEscape(id)+"/ack", body, nil); err != nil {
		return fmt.Errorf("acknowledging command %s: %w", id, err)
	}
	return nil
}
