// Package apiclient is the enroller's HTTP client for the tenant API: TLS
// pinned to the tenant root whose SHA-256 the person was given (fetched once
// from step-ca's GET /root/{fingerprint} on the API's origin, checked
// against the fingerprint, then the only trust anchor), bounded response
// bodies, and API errors returned as *Error with status, reason and message.
//
// It speaks the wire types of enroll/protocol and nothing else: it does not
// touch YubiKeys, files or the terminal, and it never logs tokens.
package apiclient

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/kiwistack/endpoint/enroll/protocol"
)

// ErrFingerprint reports that the API's origin served a root whose SHA-256
// is not the expected fingerprint: another tenant, or someone in between.
var ErrFingerprint = errors.New("the tenant root does not match the fingerprint")

// Error is an API error: the HTTP status and the body's reason and message.
type Error struct {
	Status  int
	Reason  string
	Message string
}

// Error implements error.
func (e *Error) Error() string {
	if e.Message == "" {
		return fmt.Sprintf("the API answered %d %s", e.Status, http.StatusText(e.Status))
	}
	return fmt.Sprintf("the API refused (%s, %d): %s", e.Reason, e.Status, e.Message)
}

// Client talks to one tenant API over TLS pinned to its root.
type Client struct {
	base   *url.URL
	http   *http.Client
	root   *x509.Certificate
	bearer string
	read   *ReadGrant
}

// ReadGrant is an applied read_audit or read_status and the one-time key
// its reader_key names: a client made WithReadGrant signs each of its GET
// requests with it (protocol.ReadAuthorization).
type ReadGrant struct {
	Operation string
	Key       ed25519.PrivateKey
	Tenant    string
	// Now is the clock of the timestamps; time.Now when nil.
	Now func() time.Time
}

// WithReadGrant returns a copy of c whose GET requests carry g.
func (c *Client) WithReadGrant(g *ReadGrant) *Client {
	cp := *c
	cp.read = g
	return &cp
}

// Option configures Dial.
type Option func(*Client)

// WithBearerToken sends token as Authorization: Bearer on every request
// (the MSP's provisioning token for admin certificates).
func WithBearerToken(token string) Option { return func(c *Client) { c.bearer = token } }

// WithTimeout bounds each request (default 30 s).
func WithTimeout(d time.Duration) Option { return func(c *Client) { c.http.Timeout = d } }

// Dial fetches the tenant root from apiURL's origin (GET
// /root/{rootFingerprint}, step-ca's route), checks that its SHA-256 is
// rootFingerprint (hex, colons allowed) and returns a client that trusts
// only that root.
func Dial(ctx context.Context, apiURL, rootFingerprint string, opts ...Option) (*Client, error) {
	u, err := url.Parse(strings.TrimSuffix(apiURL, "/"))
	if err != nil || u.Scheme != "https" || u.Host == "" {
		return nil, fmt.Errorf("API URL %q: an https:// URL is needed, e.g. https://localhost:8443", apiURL)
	}
	fp := strings.ToLower(strings.ReplaceAll(rootFingerprint, ":", ""))
	if b, err := hex.DecodeString(fp); err != nil || len(b) != sha256.Size {
		return nil, fmt.Errorf("root fingerprint %q: 64 hex digits (the SHA-256 of the tenant root) are needed", rootFingerprint)
	}
	c := &Client{base: u, http: &http.Client{Timeout: 30 * time.Second}}
	for _, o := range opts {
		o(c)
	}
	// The root is fetched without verifying the server: it is trusted
	// only if its hash is the fingerprint the person was given.
	bootstrap := &http.Client{Timeout: c.http.Timeout, Transport: &http.Transport{
		TLSClientConfig: &tls.Config{MinVersion: tls.VersionTLS12, InsecureSkipVerify: true}, //nolint:gosec // pinned by hash below
	}}
	defer bootstrap.CloseIdleConnections()
	var rootResp struct {
		CA string `json:"ca"`
	}
	err = c.do(ctx, bootstrap, http.MethodGet, "/root/"+fp, nil, &rootResp)
	if ae := (*Error)(nil); errors.As(err, &ae) && ae.Status == http.StatusNotFound {
		return nil, fmt.Errorf("%w: %s has no root with SHA-256 %s; check the URL and the fingerprint you were given",
			ErrFingerprint, u.Redacted(), fp)
	}
	if err != nil {
		return nil, fmt.Errorf("fetching the tenant root from %s: %w", u.Redacted(), err)
	}
	b, _ := pem.Decode([]byte(rootResp.CA))
	if b == nil || b.Type != "CERTIFICATE" {
		return nil, fmt.Errorf("fetching the tenant root from %s: the answer holds no PEM certificate", u.Redacted())
	}
	sum := sha256.Sum256(b.Bytes)
	if hex.EncodeToString(sum[:]) != fp {
		return nil, fmt.Errorf("%w: %s served a root with SHA-256 %x, not %s; check the URL and the fingerprint you were given",
			ErrFingerprint, u.Redacted(), sum, fp)
	}
	root, err := x509.ParseCertificate(b.Bytes)
	if err != nil {
		return nil, fmt.Errorf("parsing the tenant root: %w", err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(root)
	c.root = root
	c.http.Transport = &http.Transport{
		TLSClientConfig:     &tls.Config{MinVersion: tls.VersionTLS12, RootCAs: pool},
		TLSHandshakeTimeout: 10 * time.Second,
	}
	return c, nil
}

// Root returns the tenant root the client trusts.
func (c *Client) Root() *x509.Certificate { return c.root }

// URL returns the API's base URL.
func (c *Client) URL() string { return c.base.String() }

// Do sends req (nil: no body) as JSON to path and decodes a 2xx answer into
// resp (nil: ignored), at most protocol.MaxResponseBytes, calling its
// Validate method when it has one. Any other status returns an *Error.
func (c *Client) Do(ctx context.Context, method, path string, req, resp any) error {
	return c.do(ctx, c.http, method, path, req, resp)
}

func (c *Client) do(ctx context.Context, hc *http.Client, method, path string, req, resp any) error {
	var body io.Reader
	if req != nil {
		b, err := json.Marshal(req)
		if err != nil {
			return fmt.Errorf("encoding the request: %w", err)
		}
		body = bytes.NewReader(b)
	}
	hr, err := http.NewRequestWithContext(ctx, method, c.base.String()+path, body)
	if err != nil {
		return err
	}
	hr.Header.Set("Accept", "application/json")
	if req != nil {
		hr.Header.Set("Content-Type", "application/json")
	}
	if c.bearer != "" {
		hr.Header.Set("Authorization", "Bearer "+c.bearer)
	}
	if g := c.read; g != nil && method == http.MethodGet {
		now := time.Now
		if g.Now != nil {
			now = g.Now
		}
		ts := now().Unix()
		sig := ed25519.Sign(g.Key, protocol.ReadGrantMessage(g.Tenant, method, hr.URL.RequestURI(), ts))
		hr.Header.Set("Authorization", protocol.ReadAuthorization(g.Operation, ts, sig))
	}
	r, err := hc.Do(hr)
	if err != nil {
		return fmt.Errorf("%s %s: %w", method, path, err)
	}
	defer r.Body.Close()
	data, err := io.ReadAll(io.LimitReader(r.Body, protocol.MaxResponseBytes+1))
	if err != nil {
		return fmt.Errorf("%s %s: reading the answer: %w", method, path, err)
	}
	if len(data) > protocol.MaxResponseBytes {
		return fmt.Errorf("%s %s: the answer is larger than %d bytes", method, path, protocol.MaxResponseBytes)
	}
	if r.StatusCode < 200 || r.StatusCode > 299 {
		e := &Error{Status: r.StatusCode}
		var er protocol.ErrorResponse
		if json.Unmarshal(data, &er) == nil {
			e.Reason, e.Message = er.Reason, er.Message
		}
		return e
	}
	if resp == nil {
		return nil
	}
	if err := json.Unmarshal(data, resp); err != nil {
		return fmt.Errorf("%s %s: the answer is not the expected JSON: %w", method, path, err)
	}
	if v, ok := resp.(interface{ Validate() error }); ok {
		if err := v.Validate(); err != nil {
			return fmt.Errorf("%s %s: the answer is not valid: %w", method, path, err)
		}
	}
	return nil
}

// Challenge asks for a challenge (POST /v1/challenges).
func (c *Client) Challenge(ctx context.Context, req protocol.ChallengeRequest) (*protocol.Challenge, error) {
	var resp protocol.Challenge
	if err := c.Do(ctx, http.MethodPost, "/v1/challenges", req, &resp); err != nil {
		return nil, err
	}
	return &resp, nil
}

// Enroll sends a signed enrollment (POST /v1/enrollments).
func (c *Client) Enroll(ctx context.Context, req protocol.EnrollRequest) (*protocol.EnrollResponse, error) {
	var resp protocol.EnrollResponse
	if err := c.Do(ctx, http.MethodPost, "/v1/enrollments", req, &resp); err != nil {
		return nil, err
	}
	return &resp, nil
}

// AdminCertificate asks for an administrator's slot 9a certificate (POST
// /v1/admin-certificates; Dial with WithBearerToken(provisioning token)).
func (c *Client) AdminCertificate(ctx context.Context, req protocol.AdminCertificateRequest) (*protocol.AdminCertificateResponse, error) {
	var resp protocol.AdminCertificateResponse
	if err := c.Do(ctx, http.MethodPost, "/v1/admin-certificates", req, &resp); err != nil {
		return nil, err
	}
	return &resp, nil
}

// Claim sends an OEM laptop's first-boot claim (POST /v1/claims); the
// answer is the same as an enrollment's. A refusal is an *Error whose
// Reason says why (e.g. "bootstrap_token_used").
func (c *Client) Claim(ctx context.Context, req protocol.ClaimRequest) (*protocol.EnrollResponse, error) {
	var resp protocol.EnrollResponse
	if err := c.Do(ctx, http.MethodPost, "/v1/claims", req, &resp); err != nil {
		return nil, err
	}
	return &resp, nil
}
