package disk

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/kiwistack/endpoint/agent/enrollment"
	"github.com/kiwistack/endpoint/enroll/protocol"
)

// API is the tenant API's escrow endpoint as the controller uses it.
type API interface {
	// Escrow stores a sealed key and returns its escrow id.
	Escrow(ctx context.Context, rec *enrollment.Record, req protocol.DiskEscrowRequest) (string, error)
}

// APIError is an API refusal.
type APIError struct {
	Status          int
	Reason, Message string
}

func (e *APIError) Error() string {
	return fmt.Sprintf("the api answered %d %s: %s", e.Status, e.Reason, e.Message)
}

// HTTPAPI reaches the API over mutual TLS with the device certificate,
// trusting only the tenant root.
type HTTPAPI struct{}

// Escrow implements API.
func (HTTPAPI) Escrow(ctx context.Context, rec *enrollment.Record, req protocol.DiskEscrowRequest) (string, error) {
	cert, err := tls.LoadX509KeyPair(rec.Certificate, rec.Key)
	if err != nil {
		return "", fmt.Errorf("loading the device certificate: %w", err)
	}
	rootPEM, err := os.ReadFile(rec.Root)
	if err != nil {
		return "", fmt.Errorf("reading the tenant root: %w", err)
	}
	roots := x509.NewCertPool()
	if !roots.AppendCertsFromPEM(rootPEM) {
		return "", errors.New("reading the tenant root: no certificate")
	}
	hc := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{
		TLSClientConfig:   &tls.Config{MinVersion: tls.VersionTLS12, RootCAs: roots, Certificates: []tls.Certificate{cert}},
		DisableKeepAlives: true,
	}}
	body, err := json.Marshal(req)
	if err != nil {
		return "", err
	}
	hr, err := http.NewRequestWithContext(ctx, http.MethodPost, strings.TrimSuffix(rec.APIURL, "/")+protocol.PathDeviceDiskEscrow, bytes.NewReader(body))
	if err != nil {
		return "", err
	}
	hr.Header.Set("Content-Type", "application/json")
	resp, err := hc.Do(hr)
	if err != nil {
		return "", fmt.Errorf("escrowing the recovery key: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		var er protocol.ErrorResponse
		_ = json.NewDecoder(http.MaxBytesReader(nil, resp.Body, 1<<16)).Decode(&er)
		return "", fmt.Errorf("escrowing the recovery key: %w", &APIError{Status: resp.StatusCode, Reason: er.Reason, Message: er.Message})
	}
	var out protocol.DiskEscrowResponse
	if err := protocol.DecodeJSON(resp.Body, protocol.MaxResponseBytes, &out); err != nil {
		return "", fmt.Errorf("escrowing the recovery key: %w", err)
	}
	if !protocol.ValidEscrowID(out.EscrowID) {
		return "", errors.New("escrowing the recovery key: the api answered no escrow id")
	}
	return out.EscrowID, nil
}
