package enrollment

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/kiwistack/endpoint/enroll/protocol"
)

// RequestTimeout bounds one call to the tenant API (Record.Call).
const RequestTimeout = 30 * time.Second

// ReasonDeviceInactive is the API's reason for a device that is revoked,
// locked, wiped or replaced.
const ReasonDeviceInactive = "device_inactive"

// APIError is the tenant API's refusal of a device request: the HTTP
// status and the body's reason and message.
type APIError struct {
	Status          int
	Reason, Message string
}

// Error implements error.
func (e *APIError) Error() string {
	return fmt.Sprintf("the api answered %d %s: %s", e.Status, e.Reason, e.Message)
}

// Inactive reports whether the API says the device is no longer active.
func (e *APIError) Inactive() bool { return e.Reason == ReasonDeviceInactive }

// Call sends one request to the tenant API at r.APIURL+path over mutual
// TLS with the device certificate, trusting only the tenant root, and
// decodes a 2xx answer into out (if not nil), at most
// protocol.MaxResponseBytes; body, when not nil, is sent as JSON. A refusal
// is an *APIError. The certificate is loaded for each call: renewal
// replaces it on disk.
func (r *Record) Call(ctx context.Context, method, path string, body []byte, out any) error {
	cert, err := tls.LoadX509KeyPair(r.Certificate, r.Key)
	if err != nil {
		return fmt.Errorf("loading the device certificate: %w", err)
	}
	rootPEM, err := os.ReadFile(r.Root)
	if err != nil {
		return fmt.Errorf("reading the tenant root: %w", err)
	}
	roots := x509.NewCertPool()
	if !roots.AppendCertsFromPEM(rootPEM) {
		return errors.New("reading the tenant root: no certificate")
	}
	tr := &http.Transport{
		TLSClientConfig:   &tls.Config{MinVersion: tls.VersionTLS12, RootCAs: roots, Certificates: []tls.Certificate{cert}},
		DisableKeepAlives: true,
	}
	defer tr.CloseIdleConnections()
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, strings.TrimSuffix(r.APIURL, "/")+path, rd)
	if err != nil {
		return err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := (&http.Client{Timeout: RequestTimeout, Transport: tr}).Do(req)
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
