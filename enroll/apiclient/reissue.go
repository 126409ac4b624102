package apiclient

import (
	"context"
	"net/http"

	"github.com/kiwistack/endpoint/enroll/protocol"
)

// ReissueAdminCertificate asks for a new slot 9a certificate, under the
// tenant's current intermediate, for a key the roster already pins (POST
// /v1/admin-certificates/reissue; no token: the attestation, the CSR's
// signature and the roster authorise it).
func (c *Client) ReissueAdminCertificate(ctx context.Context, req protocol.AdminReissueRequest) (*protocol.AdminCertificateResponse, error) {
	var resp protocol.AdminCertificateResponse
	if err := c.Do(ctx, http.MethodPost, "/v1/admin-certificates/reissue", req, &resp); err != nil {
		return nil, err
	}
	return &resp, nil
}
