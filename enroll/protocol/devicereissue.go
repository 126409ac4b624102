package protocol

import (
	"bytes"
	"encoding/pem"
	"fmt"
)

// DeviceReissueRequest is the body of POST /v1/device/reissue: after a
// rotate_intermediate, a device whose certificate is from the retired
// intermediate asks, over mutual TLS with that certificate, for one from
// the current intermediate for the same device key. The answer is an
// EnrollResponse.
type DeviceReissueRequest struct {
	// CSR is the device key's PKCS #10 request, one PEM block, with the
	// same names an enrollment's CSR carries (device URI, WireGuard URI).
	CSR string `json:"csr"`
}

// Validate checks that the CSR is one "CERTIFICATE REQUEST" PEM block;
// errors wrap ErrMalformed.
func (r *DeviceReissueRequest) Validate() error {
	b, rest := pem.Decode([]byte(r.CSR))
	if b == nil || b.Type != "CERTIFICATE REQUEST" {
		return fmt.Errorf("%w: csr must be a PEM CERTIFICATE REQUEST", ErrMalformed)
	}
	if len(bytes.TrimSpace(rest)) != 0 {
		return fmt.Errorf("%w: data after the CSR's PEM block", ErrMalformed)
	}
	return nil
}
