package apiclient

import (
	"context"
	"net/http"
	"net/url"

	"github.com/kiwistack/endpoint/enroll/protocol"
)

// RecoveryKey reads an applied read_recovery_key's release (GET
// /v1/operations/{id}/recovery-key): the key sealed to the request's
// one-time key.
func (c *Client) RecoveryKey(ctx context.Context, id string) (*protocol.RecoveryKeyRelease, error) {
	var resp protocol.RecoveryKeyRelease
	if err := c.Do(ctx, http.MethodGet, "/v1/operations/"+url.PathEscape(id)+"/recovery-key", nil, &resp); err != nil {
		return nil, err
	}
	return &resp, nil
}
