package appcert

import (
	"context"
	"crypto"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"net/http"
	"os"

	"github.com/kiwistack/endpoint/agent/enrollment"
	"github.com/kiwistack/endpoint/enroll/protocol"
)

// APIError is the tenant API's refusal (enrollment.Record.Call).
type APIError = enrollment.APIError

// do sends one request (enrollment.Record.Call).
func do(ctx context.Context, rec *enrollment.Record, method, path string, body []byte, out any) error {
	return rec.Call(ctx, method, path, body, out)
}

// checkActive asks the API whether the device is still active: the
// check-in answers device_inactive (an *APIError) when it is not.
func checkActive(ctx context.Context, rec *enrollment.Record) error {
	return do(ctx, rec, http.MethodGet, protocol.PathDeviceConfig, nil, nil)
}

// issued is an app certificate as the API answered it, checked.
type issued struct {
	chain []*x509.Certificate // leaf, then intermediates
	root  *x509.Certificate
}

// request asks the API for an app certificate for user with csr (DER) and
// checks the answer: a certificate for csr's key, an app certificate of
// this device, chaining to the root the enrollment pinned.
func request(ctx context.Context, rec *enrollment.Record, user string, csr []byte) (*issued, error) {
	body, err := json.Marshal(protocol.AppCertificateRequest{
		CSR: string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: csr})), User: user,
	})
	if err != nil {
		return nil, err
	}
	var resp protocol.AppCertificateResponse
	if err := do(ctx, rec, http.MethodPost, protocol.PathAppCertificate, body, &resp); err != nil {
		return nil, err
	}
	return checkIssued(rec, csr, &resp)
}

// checkIssued checks an AppCertificateResponse against the request and
// the pinned root.
func checkIssued(rec *enrollment.Record, csrDER []byte, resp *protocol.AppCertificateResponse) (*issued, error) {
	var chain []*x509.Certificate
	for rest := []byte(resp.Certificate); ; {
		var b *pem.Block
		b, rest = pem.Decode(rest)
		if b == nil {
			break
		}
		c, err := x509.ParseCertificate(b.Bytes)
		if err != nil {
			return nil, fmt.Errorf("the api's app certificate: %w", err)
		}
		chain = append(chain, c)
	}
	if len(chain) == 0 {
		return nil, errors.New("the api answered no app certificate")
	}
	rootPEM, err := os.ReadFile(rec.Root)
	if err != nil {
		return nil, fmt.Errorf("reading the tenant root: %w", err)
	}
	rb, _ := pem.Decode(rootPEM)
	if rb == nil {
		return nil, errors.New("reading the tenant root: no PEM block")
	}
	root, err := x509.ParseCertificate(rb.Bytes)
	if err != nil {
		return nil, fmt.Errorf("reading the tenant root: %w", err)
	}
	csr, err := x509.ParseCertificateRequest(csrDER)
	if err != nil {
		return nil, err
	}
	leaf := chain[0]
	if k, ok := leaf.PublicKey.(interface{ Equal(crypto.PublicKey) bool }); !ok || !k.Equal(csr.PublicKey) {
		return nil, errors.New("the api's app certificate is for another key")
	}
	if !protocol.IsAppCertificate(leaf) || !hasURI(leaf, appURI(rec.Tenant, rec.DeviceID)) {
		return nil, errors.New("the api's certificate is not an app certificate of this device")
	}
	roots, inter := x509.NewCertPool(), x509.NewCertPool()
	roots.AddCert(root)
	for _, c := range chain[1:] {
		inter.AddCert(c)
	}
	if _, err := leaf.Verify(x509.VerifyOptions{Roots: roots, Intermediates: inter,
		KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}); err != nil {
		return nil, fmt.Errorf("the api's app certificate does not chain to the tenant root: %w", err)
	}
	return &issued{chain: chain, root: root}, nil
}

// appURI is the app URI of deviceID of tenant, as a string.
func appURI(tenant, deviceID string) string { return protocol.AppURI(tenant, deviceID).String() }

// hasURI reports whether c carries the URI SAN uri.
func hasURI(c *x509.Certificate, uri string) bool {
	for _, u := range c.URIs {
		if u.String() == uri {
			return true
		}
	}
	return false
}
