package appcert

import (
	"bytes"
	"context"
	"crypto"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/kiwistack/endpoint/agent/enrollment"
	"github.com/kiwistack/endpoint/enroll/protocol"
)

// requestTimeout bounds one call to the tenant API.
const requestTimeout = 30 * time.Second

// APIError is the tenant API's refusal.
type APIError struct {
	Status  int
	Reason  string
	Message string
}

// Error implements error.
func (e *APIError) Error() string {
	return fmt.Sprintf("the api answered %d %s: %s", e.Status, e.Reason, e.Message)
}

// Inactive reports whether the API says the device is no longer active
// (revoked, locked, wiped or replaced).
func (e *APIError) Inactive() bool { return e.Reason == "device_inactive" }

// client calls the tenant API over mutual TLS with the device certificate,
// trusting only the tenant root. It is built per call: the device
// certificate on disk changes with every renewal.
func client(rec *enrollment.Record) (*http.Client, error) {
	cert, err := tls.LoadX509KeyPair(rec.Certificate, rec.Key)
	if err != nil {
		return nil, fmt.Errorf("loading the device certificate: %w", err)
	}
	rootPEM, err := os.ReadFile(rec.Root)
	if err != nil {
		return nil, fmt.Errorf("reading the tenant root: %w", err)
	}
	roots := x509.NewCertPool()
	if !roots.AppendCertsFromPEM(rootPEM) {
		return nil, errors.New("reading the tenant root: no certificate")
	}
	return &http.Client{Timeout: requestTimeout, Transport: &http.Transport{
		TLSClientConfig:   &tls.Config{MinVersion: tls.VersionTLS12, RootCAs: roots, Certificates: []tls.Certificate{cert}},
		DisableKeepAlives: true,
	}}, nil
}

// do sends one request and decodes a 2xx answer into out (if not nil).
func do(ctx context.Context, rec *enrollment.Record, method, path string, body []byte, out any) error {
	hc, err := client(rec)
	if err != nil {
		return err
	}
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, strings.TrimSuffix(rec.APIURL, "/")+path, rd)
	if err != nil {
		return err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := hc.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		var er protocol.ErrorResponse
		_ = json.NewDecoder(io.LimitReader(resp.Body, 1<<16)).Decode(&er)
		return &APIError{Status: resp.StatusCode, Reason: er.Reason, Message: er.Message}
	}
	if out == nil {
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, protocol.MaxResponseBytes))
		return nil
	}
	if err := protocol.DecodeJSON(resp.Body, protocol.MaxResponseBytes, out); err != nil {
		return fmt.Errorf("reading the answer to %s: %w", path, err)
	}
	return nil
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
