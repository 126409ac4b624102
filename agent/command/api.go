package command

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"

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

// client builds a client for rec's certificate, key and root.
func (HTTPAPI) client(rec *enrollment.Record) (*http.Client, error) {
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
	return &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{
		TLSClientConfig:   &tls.Config{MinVersion: tls.VersionTLS12, RootCAs: roots, Certificates: []tls.Certificate{cert}},
		DisableKeepAlives: true,
	}}, nil
}

func (a HTTPAPI) do(ctx context.Context, rec *enrollment.Record, method, path string, body []byte, out any) error {
	hc, err := a.client(rec)
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, method, strings.TrimSuffix(rec.APIURL, "/")+path, bytes.NewReader(body))
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
		_ = json.NewDecoder(http.MaxBytesReader(nil, resp.Body, 1<<16)).Decode(&er)
		return &APIError{Status: resp.StatusCode, Reason: er.Reason, Message: er.Message}
	}
	if out == nil {
		return nil
	}
	return protocol.DecodeJSON(resp.Body, protocol.MaxResponseBytes, out)
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
