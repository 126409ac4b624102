package apiclient

import (
	"context"
	"fmt"
	"net/http"
	"net/url"

	"github.com/kiwistack/endpoint/enroll/protocol"
)

// RequestOperation asks for a new operation instance (POST /v1/operations).
func (c *Client) RequestOperation(ctx context.Context, req protocol.OperationRequest) (*protocol.OperationInstance, error) {
	var resp protocol.OperationInstance
	if err := c.Do(ctx, http.MethodPost, "/v1/operations", req, &resp); err != nil {
		return nil, err
	}
	return &resp, nil
}

// Operation reads one operation (GET /v1/operations/{id}).
func (c *Client) Operation(ctx context.Context, id string) (*protocol.OperationInstance, error) {
	var resp protocol.OperationInstance
	if err := c.Do(ctx, http.MethodGet, "/v1/operations/"+url.PathEscape(id), nil, &resp); err != nil {
		return nil, err
	}
	return &resp, nil
}

// Operations lists operations in the given states (comma-separated; ""
// for all), newest first (GET /v1/operations).
func (c *Client) Operations(ctx context.Context, states string) (*protocol.OperationList, error) {
	path := "/v1/operations"
	if states != "" {
		path += "?state=" + url.QueryEscape(states)
	}
	var resp protocol.OperationList
	if err := c.Do(ctx, http.MethodGet, path, nil, &resp); err != nil {
		return nil, err
	}
	return &resp, nil
}

// SignOperation adds an approval or an operator co-signature (POST
// /v1/operations/{id}/signatures).
func (c *Client) SignOperation(ctx context.Context, id string, req protocol.SignatureRequest) (*protocol.OperationInstance, error) {
	var resp protocol.OperationInstance
	if err := c.Do(ctx, http.MethodPost, "/v1/operations/"+url.PathEscape(id)+"/signatures", req, &resp); err != nil {
		return nil, err
	}
	return &resp, nil
}

// CancelOperation adds a cancel statement (POST
// /v1/operations/{id}/cancellations).
func (c *Client) CancelOperation(ctx context.Context, id string, req protocol.SignatureRequest) (*protocol.OperationInstance, error) {
	var resp protocol.OperationInstance
	if err := c.Do(ctx, http.MethodPost, "/v1/operations/"+url.PathEscape(id)+"/cancellations", req, &resp); err != nil {
		return nil, err
	}
	return &resp, nil
}

// Audit reads the audit entries after sequence number after (GET
// /v1/audit?after=N), one page.
func (c *Client) Audit(ctx context.Context, after int64) (*protocol.AuditPage, error) {
	var resp protocol.AuditPage
	if err := c.Do(ctx, http.MethodGet, fmt.Sprintf("/v1/audit?after=%d", after), nil, &resp); err != nil {
		return nil, err
	}
	return &resp, nil
}
