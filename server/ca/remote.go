package ca

import (
	"bytes"
	"context"
	"crypto"
	"crypto/sha256"
	"crypto/subtle"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/smallstep/certificates/api"
	"go.step.sm/crypto/jose"
)

// Limits of the client of an external step-ca.
const (
	// DefaultRemoteTimeout bounds one request to an external step-ca.
	DefaultRemoteTimeout = 30 * time.Second
	// maxRemoteResponse bounds a response body of step-ca (a certificate
	// chain or a root is a few kilobytes).
	maxRemoteResponse = 1 << 20
	// maxKeyFile bounds a provisioner key or password file.
	maxKeyFile = 64 << 10
)

// RemoteProvisioner names a JWK provisioner of an external step-ca and holds
// its private key.
type RemoteProvisioner struct {
	// Name is the provisioner's name in step-ca's ca.json (the token issuer).
	Name string
	// Key is the provisioner's private key; its key id must be the kid of
	// the provisioner's public key in ca.json.
	Key *jose.JSONWebKey
}

// RemoteConfig configures DialRemote.
type RemoteConfig struct {
	// URL is step-ca's base URL, https://HOST[:PORT] (required).
	URL string
	// RootFingerprint is the SHA-256 of step-ca's root certificate in hex,
	// as `step certificate fingerprint` prints it (required).
	RootFingerprint string
	// Tenant is the tenant slug; it is the O of device and admin
	// certificates through the provisioners' template data, and part of
	// the device URI SAN (required).
	Tenant string
	// Devices is the device provisioner (ProvisionerName unless renamed)
	// (required).
	Devices RemoteProvisioner
	// Admins is the admin provisioner (AdminProvisionerName unless renamed);
	// without a key SignAdmin is refused.
	Admins RemoteProvisioner
	// AppsName is the name of the app-certificate provisioner, which
	// shares the device provisioner's key (AppProvisionerName when empty).
	AppsName string
	// Timeout bounds each request; DefaultRemoteTimeout when 0.
	Timeout time.Duration
	// Logger receives what the client does; discarded when nil.
	Logger *slog.Logger
}

// Remote is a client of an external step-ca's HTTP API that issues and
// revokes the same device and admin certificates as Embedded. It trusts
// exactly one root: the one whose fingerprint it was given, fetched once at
// DialRemote the way `step ca bootstrap` does; every later request is HTTPS
// verified against that root alone, never the system roots.
type Remote struct {
	base         *url.URL
	tenant       string
	root         *x509.Certificate
	intermediate *x509.Certificate
	devices      *Minter
	revokes      *Minter
	admins       *Minter
	apps         *Minter // app certificates (app.go)
	client       *http.Client
	log          *slog.Logger
}

var _ Bridge = (*Remote)(nil)

// DialRemote bootstraps trust in the step-ca at cfg.URL: it fetches
// GET /root/<fingerprint> without verifying the server, checks that the
// returned certificate's SHA-256 is the fingerprint, and from then on
// trusts that root only. It then fetches the intermediates (GET
// /1.0/intermediates) and keeps the first, which must be signed by the
// root: it is the tenant intermediate, the trust anchor for administrators'
// certificates.
func DialRemote(ctx context.Context, cfg RemoteConfig) (*Remote, error) {
	r, err := newRemote(cfg)
	if err != nil {
		return nil, fmt.Errorf("connecting to step-ca: %w", err)
	}
	if err := r.bootstrap(ctx, cfg); err != nil {
		return nil, fmt.Errorf("connecting to step-ca at %s: %w", r.base, err)
	}
	r.log.Info("step-ca connected", "url", r.base.String(), "root_fingerprint", r.Fingerprint(),
		"intermediate", r.intermediate.Subject.String())
	return r, nil
}

func newRemote(cfg RemoteConfig) (*Remote, error) {
	u, err := url.Parse(cfg.URL)
	if err != nil || u.Scheme != "https" || u.Host == "" || u.User != nil || u.RawQuery != "" || u.Fragment != "" {
		return nil, fmt.Errorf("ca url %q: want https://HOST[:PORT]", cfg.URL)
	}
	u.Path = strings.TrimSuffix(u.Path, "/")
	if !validDeviceID(cfg.Tenant) {
		return nil, fmt.Errorf("tenant %q is not a slug", cfg.Tenant)
	}
	if len(cfg.RootFingerprint) != 2*sha256.Size {
		return nil, fmt.Errorf("root fingerprint %q: want the 64 hex digits of the root's SHA-256", cfg.RootFingerprint)
	}
	if _, err := hex.DecodeString(cfg.RootFingerprint); err != nil {
		return nil, fmt.Errorf("root fingerprint %q: want the 64 hex digits of the root's SHA-256", cfg.RootFingerprint)
	}
	if cfg.Devices.Name == "" || cfg.Devices.Key == nil {
		return nil, errors.New("the device provisioner's name and key are required")
	}
	base := u.String()
	devices, err := NewMinter(cfg.Devices.Key, cfg.Devices.Name, base+"/1.0/sign")
	if err != nil {
		return nil, err
	}
	r := &Remote{
		base:    u,
		tenant:  cfg.Tenant,
		devices: devices,
		revokes: devices.WithAudience(base + "/1.0/revoke"),
		log:     cfg.Logger,
	}
	appsName := cfg.AppsName
	if appsName == "" {
		appsName = AppProvisionerName
	}
	if r.apps, err = NewMinter(cfg.Devices.Key, appsName, base+"/1.0/sign"); err != nil {
		return nil, err
	}
	if cfg.Admins.Key != nil {
		if cfg.Admins.Name == "" {
			return nil, errors.New("the admin provisioner has a key but no name")
		}
		if r.admins, err = NewMinter(cfg.Admins.Key, cfg.Admins.Name, base+"/1.0/sign"); err != nil {
			return nil, err
		}
	}
	if r.log == nil {
		r.log = slog.New(slog.DiscardHandler)
	}
	timeout := cfg.Timeout
	if timeout <= 0 {
		timeout = DefaultRemoteTimeout
	}
	r.client = &http.Client{Timeout: timeout, Transport: newTransport(&tls.Config{
		MinVersion: tls.VersionTLS12,
		// Only for GET /root/<fingerprint>: what it returns is checked
		// against the fingerprint before it is trusted.
		InsecureSkipVerify: true, //nolint:gosec // bootstrap, see above
	})}
	// Refuse redirects: a step-ca does not redirect, and a redirect could
	// take a token elsewhere.
	r.client.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	return r, nil
}

func newTransport(tc *tls.Config) *http.Transport {
	return &http.Transport{
		Proxy:                 http.ProxyFromEnvironment,
		DialContext:           (&net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		TLSClientConfig:       tc,
		TLSHandshakeTimeout:   10 * time.Second,
		ResponseHeaderTimeout: 30 * time.Second,
		IdleConnTimeout:       90 * time.Second,
		MaxIdleConnsPerHost:   4,
		ForceAttemptHTTP2:     true,
	}
}

// bootstrap fetches and pins the root, then switches the client to it.
func (r *Remote) bootstrap(ctx context.Context, cfg RemoteConfig) error {
	want, _ := hex.DecodeString(strings.ToLower(cfg.RootFingerprint))
	var rr api.RootResponse
	if err := r.do(ctx, http.MethodGet, "/root/"+strings.ToLower(cfg.RootFingerprint), nil, &rr); err != nil {
		return fmt.Errorf("fetching the root: %w", err)
	}
	root := rr.RootPEM.Certificate
	if root == nil {
		return errors.New("fetching the root: step-ca returned no certificate")
	}
	got := sha256.Sum256(root.Raw)
	if subtle.ConstantTimeCompare(got[:], want) != 1 {
		return fmt.Errorf("%w: step-ca returned a root with fingerprint %x, not %s: check root_fingerprint and that the url is your step-ca",
			ErrFingerprint, got, strings.ToLower(cfg.RootFingerprint))
	}
	if !root.IsCA {
		return errors.New("the root with that fingerprint is not a CA certificate")
	}
	r.root = root
	pool := x509.NewCertPool()
	pool.AddCert(root)
	old := r.client.Transport.(*http.Transport)
	old.CloseIdleConnections()
	r.client.Transport = newTransport(&tls.Config{MinVersion: tls.VersionTLS12, RootCAs: pool})

	var ir api.IntermediatesResponse
	if err := r.do(ctx, http.MethodGet, "/1.0/intermediates", nil, &ir); err != nil {
		return fmt.Errorf("fetching the intermediates: %w", err)
	}
	if len(ir.Certificates) == 0 || ir.Certificates[0].Certificate == nil {
		return errors.New("fetching the intermediates: step-ca returned none")
	}
	inter := ir.Certificates[0].Certificate
	if !inter.IsCA || inter.CheckSignatureFrom(root) != nil {
		return fmt.Errorf("step-ca's intermediate %q is not a CA signed by the root", inter.Subject)
	}
	r.intermediate = inter
	return nil
}

// ErrFingerprint reports that the step-ca at the URL does not have the root
// whose fingerprint was configured.
var ErrFingerprint = errors.New("root fingerprint mismatch")

// Sign implements Bridge against the external step-ca: POST /1.0/sign with a
// one-time token of the device provisioner for deviceID (SAN: its device
// URI). The chain returned by step-ca must verify against the pinned root.
func (r *Remote) Sign(ctx context.Context, csr *x509.CertificateRequest, deviceID string, lifetime time.Duration) (*x509.Certificate, []*x509.Certificate, error) {
	lifetime, err := checkSignRequest(csr, deviceID, lifetime)
	if err != nil {
		return nil, nil, err
	}
	if lifetime < 0 || lifetime > MaxLifetime {
		return nil, nil, fmt.Errorf("signing certificate for device %s: %w: lifetime %s above %s", deviceID, ErrRefused, lifetime, MaxLifetime)
	}
	tok, err := r.devices.Mint(deviceID, DeviceSANs(r.tenant, deviceID, csr), nil)
	if err != nil {
		return nil, nil, fmt.Errorf("signing certificate for device %s: %w", deviceID, err)
	}
	leaf, chain, err := r.sign(ctx, tok, csr, lifetime)
	if err != nil {
		return nil, nil, fmt.Errorf("signing certificate for device %s: %w", deviceID, err)
	}
	r.log.Info("device certificate issued", "device", deviceID, "serial", leaf.SerialNumber.String(), "not_after", leaf.NotAfter)
	return leaf, chain, nil
}

// SignAdmin has the external step-ca issue an administrator's slot 9a
// certificate through the admin provisioner (see Embedded.SignAdmin).
func (r *Remote) SignAdmin(ctx context.Context, req AdminRequest) (*x509.Certificate, []*x509.Certificate, error) {
	if r.admins == nil {
		return nil, nil, fmt.Errorf("signing admin certificate: %w: no admin provisioner key is configured", ErrRefused)
	}
	tok, err := adminToken(r.admins, r.tenant, req)
	if err != nil {
		return nil, nil, err
	}
	leaf, chain, err := r.sign(ctx, tok, req.CSR, req.Lifetime)
	if err != nil {
		return nil, nil, fmt.Errorf("signing admin certificate for YubiKey %d: %w", req.Serial, err)
	}
	r.log.Info("admin certificate issued", "serial", req.Serial, "admin", req.Admin, "role", req.Role,
		"cert_serial", leaf.SerialNumber.String(), "not_after", leaf.NotAfter)
	return leaf, chain, nil
}

// sign posts one sign request and checks the answer.
func (r *Remote) sign(ctx context.Context, tok string, csr *x509.CertificateRequest, lifetime time.Duration) (*x509.Certificate, []*x509.Certificate, error) {
	body := api.SignRequest{CsrPEM: api.NewCertificateRequest(csr), OTT: tok}
	if lifetime > 0 {
		body.NotAfter.SetDuration(lifetime)
	}
	var sr api.SignResponse
	if err := r.do(ctx, http.MethodPost, "/1.0/sign", body, &sr); err != nil {
		return nil, nil, err
	}
	leaf := sr.ServerPEM.Certificate
	if leaf == nil {
		return nil, nil, errors.New("step-ca answered without a certificate")
	}
	inter := x509.NewCertPool()
	var chain []*x509.Certificate
	for _, c := range sr.CertChainPEM {
		if c.Certificate == nil || c.Certificate.Equal(leaf) {
			continue
		}
		inter.AddCert(c.Certificate)
		chain = append(chain, c.Certificate)
	}
	if len(chain) == 0 && sr.CaPEM.Certificate != nil {
		inter.AddCert(sr.CaPEM.Certificate)
		chain = append(chain, sr.CaPEM.Certificate)
	}
	roots := x509.NewCertPool()
	roots.AddCert(r.root)
	if _, err := leaf.Verify(x509.VerifyOptions{Roots: roots, Intermediates: inter, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny}}); err != nil {
		return nil, nil, fmt.Errorf("step-ca returned a certificate that does not verify against the root: %w", err)
	}
	if !publicKeysEqual(leaf, csr) {
		return nil, nil, errors.New("step-ca returned a certificate for another key")
	}
	return leaf, append(chain, r.root), nil
}

func publicKeysEqual(c *x509.Certificate, csr *x509.CertificateRequest) bool {
	k, ok := c.PublicKey.(interface{ Equal(crypto.PublicKey) bool })
	return ok && k.Equal(csr.PublicKey)
}

// Revoke implements Bridge with step-ca's passive revocation (POST
// /1.0/revoke, passive, with a device-provisioner token whose subject is
// the serial): every later renewal of serial is refused by step-ca.
func (r *Remote) Revoke(ctx context.Context, serial, reason string) error {
	if serial == "" || strings.TrimLeft(serial, "0123456789") != "" {
		return fmt.Errorf("revoking certificate %q: %w: serial must be decimal", serial, ErrRefused)
	}
	tok, err := r.revokes.Mint(serial, nil, nil)
	if err != nil {
		return fmt.Errorf("revoking certificate %s: %w", serial, err)
	}
	var resp api.RevokeResponse
	if err := r.do(ctx, http.MethodPost, "/1.0/revoke", api.RevokeRequest{
		Serial: serial, OTT: tok, Reason: reason, Passive: true,
	}, &resp); err != nil {
		return fmt.Errorf("revoking certificate %s: %w", serial, err)
	}
	r.log.Info("certificate revoked", "serial", serial, "reason", reason)
	return nil
}

// Health asks step-ca's GET /health; nil means step-ca answered "ok".
func (r *Remote) Health(ctx context.Context) error {
	var h api.HealthResponse
	if err := r.do(ctx, http.MethodGet, "/health", nil, &h); err != nil {
		return fmt.Errorf("checking step-ca health: %w", err)
	}
	if h.Status != "ok" {
		return fmt.Errorf("checking step-ca health: status %q", h.Status)
	}
	return nil
}

// Roots implements Bridge: the pinned root.
func (r *Remote) Roots() []*x509.Certificate { return []*x509.Certificate{r.root} }

// Intermediate returns step-ca's first intermediate, which signs device and
// admin certificates.
func (r *Remote) Intermediate() *x509.Certificate { return r.intermediate }

// Fingerprint returns the pinned root's SHA-256 fingerprint (lower-case hex).
func (r *Remote) Fingerprint() string { return Fingerprint(r.root) }

// URL returns step-ca's base URL.
func (r *Remote) URL() string { return r.base.String() }

// Close releases idle connections.
func (r *Remote) Close() error {
	r.client.CloseIdleConnections()
	return nil
}

// do sends one JSON request and decodes a 2xx JSON answer into out (step-ca
// answers some GETs with 201). Bodies are bounded; step-ca's error message is surfaced, and 4xx
// answers wrap ErrRefused.
func (r *Remote) do(ctx context.Context, method, path string, in, out any) error {
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return fmt.Errorf("encoding request: %w", err)
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, r.base.String()+path, body)
	if err != nil {
		return fmt.Errorf("building request: %w", err)
	}
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("Accept", "application/json")
	resp, err := r.client.Do(req)
	if err != nil {
		return fmt.Errorf("%s %s: %w", method, path, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxRemoteResponse+1))
	if err != nil {
		return fmt.Errorf("%s %s: reading response: %w", method, path, err)
	}
	if len(data) > maxRemoteResponse {
		return fmt.Errorf("%s %s: response larger than %d bytes", method, path, maxRemoteResponse)
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		msg := stepMessage(data)
		switch {
		case resp.StatusCode >= 400 && resp.StatusCode < 500:
			return fmt.Errorf("%w: step-ca refused: %s (HTTP %d)", ErrRefused, msg, resp.StatusCode)
		default:
			return fmt.Errorf("%s %s: step-ca answered HTTP %d: %s", method, path, resp.StatusCode, msg)
		}
	}
	if err := json.Unmarshal(data, out); err != nil {
		return fmt.Errorf("%s %s: decoding response: %w", method, path, err)
	}
	return nil
}

// stepMessage extracts the message of a step-ca error body
// ({"status":..., "message":...}), or a short, printable excerpt.
func stepMessage(data []byte) string {
	var e struct {
		Message string `json:"message"`
	}
	if json.Unmarshal(data, &e) == nil && e.Message != "" {
		return truncate(e.Message)
	}
	s := strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return ' '
		}
		return r
	}, strings.TrimSpace(string(data)))
	if s == "" {
		return "no message"
	}
	return truncate(s)
}

func truncate(s string) string {
	if len(s) > 200 {
		return s[:200] + "…"
	}
	return s
}

// LoadProvisionerKey reads a provisioner's private JWK from keyFile: plain
// JSON, or step's encrypted form (a JWE, as `step crypto jwk create` and
// `step ca init` write it), decrypted with the password in passwordFile
// (trailing newlines are ignored). Both files must be readable by their
// owner only (mode 0600 or stricter) on systems with Unix permissions.
func LoadProvisionerKey(keyFile, passwordFile string) (*jose.JSONWebKey, error) {
	data, err := readSecretFile(keyFile)
	if err != nil {
		return nil, fmt.Errorf("reading provisioner key: %w", err)
	}
	_, encErr := jose.ParseEncrypted(string(data))
	encrypted := encErr == nil
	var opts []jose.Option
	switch {
	case encrypted && passwordFile == "":
		return nil, fmt.Errorf("provisioner key %s is encrypted: set its password file", keyFile)
	case !encrypted && passwordFile != "":
		return nil, fmt.Errorf("provisioner key %s is not encrypted but a password file is set: remove the password file setting", keyFile)
	case encrypted:
		pw, err := readSecretFile(passwordFile)
		if err != nil {
			return nil, fmt.Errorf("reading provisioner key password: %w", err)
		}
		pw = bytes.TrimRight(pw, "\r\n")
		if len(pw) == 0 {
			return nil, fmt.Errorf("password file %s is empty", passwordFile)
		}
		opts = append(opts, jose.WithPassword(pw))
	}
	key, err := jose.ParseKey(data, append(opts, jose.WithContentType("jwk+json"))...)
	if err != nil {
		return nil, fmt.Errorf("parsing provisioner key %s: %w", keyFile, err)
	}
	if key.IsPublic() {
		return nil, fmt.Errorf("provisioner key %s is a public key: give the private key", keyFile)
	}
	if key.KeyID == "" {
		return nil, fmt.Errorf("provisioner key %s has no kid: it must carry the kid of the provisioner's key in ca.json", keyFile)
	}
	return key, nil
}

// readSecretFile reads a small file after checking its permissions.
func readSecretFile(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("%s is not a regular file", path)
	}
	if err := checkSecretMode(path, fi.Mode()); err != nil {
		return nil, err
	}
	data, err := io.ReadAll(io.LimitReader(f, maxKeyFile+1))
	if err != nil {
		return nil, err
	}
	if len(data) > maxKeyFile {
		return nil, fmt.Errorf("%s is larger than %d bytes", path, maxKeyFile)
	}
	return data, nil
}
