package ca

import (
	"context"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/kiwistack/endpoint/enroll/protocol"

	"github.com/go-chi/chi/v5"
	"github.com/smallstep/certificates/api"
	"github.com/smallstep/certificates/authority"
	"github.com/smallstep/certificates/authority/config"
	"github.com/smallstep/certificates/authority/provisioner"
	"github.com/smallstep/certificates/db"
	"github.com/smallstep/certificates/errs"
	"go.step.sm/crypto/jose"
)

// Device certificate lifetimes and the default renewal grace.
const (
	DefaultLifetime     = 24 * time.Hour
	MaxLifetime         = 24 * time.Hour
	DefaultMinLifetime  = time.Minute
	DefaultRenewalGrace = 7 * 24 * time.Hour
	// Backdate is how far step-ca moves NotBefore into the past to absorb
	// clock skew; NotAfter is the signing time plus the lifetime, so
	// NotAfter-NotBefore is the lifetime plus Backdate.
	Backdate = time.Minute
	// ProvisionerName is the name of the JWK provisioner for devices; it is
	// the issuer of the tokens the bridge mints and shows in the
	// certificates' step provisioner extension.
	ProvisionerName = "kiwistack-devices"
)

// Sentinel errors; test with errors.Is.
var (
	// ErrRefused reports a request step-ca refused (bad CSR, lifetime out of
	// range, unknown serial); the error text says why.
	ErrRefused = errors.New("refused by step-ca")
)

// Bridge is what the tenant API needs from a CA: the embedded step-ca here,
// and an external step-ca behind the same three methods later.
type Bridge interface {
	// Sign issues a certificate for deviceID to the public key of csr with
	// the given lifetime (0 means the default, 24 h). It returns the leaf
	// and the chain above it (intermediate, then root).
	Sign(ctx context.Context, csr *x509.CertificateRequest, deviceID string, lifetime time.Duration) (leaf *x509.Certificate, chain []*x509.Certificate, err error)
	// Revoke marks the certificate with the given serial (decimal, as
	// step-ca writes it) revoked, so it can never be renewed.
	Revoke(ctx context.Context, serial string, reason string) error
	// Roots returns the tenant's trust anchors.
	Roots() []*x509.Certificate
}

var _ Bridge = (*Embedded)(nil)

// Option configures Open.
type Option func(*options)

type options struct {
	log      *slog.Logger
	now      func() time.Time
	grace    time.Duration
	minLife  time.Duration
	dnsNames []string
	msp      *MSP
}

// WithMSP makes a new state directory's tenant intermediate under the MSP
// root msp instead of a root of its own (LoadOrCreatePKIUnder).
func WithMSP(m *MSP) Option { return func(o *options) { o.msp = m } }

// WithLogger sets the logger; nil discards.
func WithLogger(l *slog.Logger) Option { return func(o *options) { o.log = l } }

// WithClock sets the clock the bridge uses to decide renewal after expiry
// (the grace window); step-ca stamps certificates and tokens with the real
// time regardless.
func WithClock(now func() time.Time) Option { return func(o *options) { o.now = now } }

// WithRenewalGrace sets how long after expiry a certificate that was not
// revoked may still be renewed (DefaultRenewalGrace if not set; 0 disables
// renewal after expiry).
func WithRenewalGrace(d time.Duration) Option { return func(o *options) { o.grace = d } }

// WithMinLifetime sets the shortest lifetime Sign accepts
// (DefaultMinLifetime if not set). Tests use seconds.
func WithMinLifetime(d time.Duration) Option { return func(o *options) { o.minLife = d } }

// WithDNSNames sets the host names devices use to reach the CA handler; the
// audience of renewal tokens (renewal after expiry) must name one of them.
// The default is localhost and 127.0.0.1.
func WithDNSNames(names ...string) Option { return func(o *options) { o.dnsNames = names } }

// Embedded is step-ca running inside the API process.
//
// The device provisioner is a JWK provisioner whose private key lives in the
// state directory (0600) and is used only by this package to mint a
// one-time token for each Sign and Revoke. JWK rather than X5C: the API has
// already authorised the enrollment (YubiKey statement, roster, nonce) when
// it calls Sign, so the token only carries that decision to step-ca inside
// one process; X5C would need a second issuing chain for the API itself,
// with its own lifetime to renew, for no added assurance. The same
// provisioner type works against an external step-ca, where the API holds
// the same kind of key.
type Embedded struct {
	// mu guards auth and pki.Intermediate(Key): requests hold it for
	// reading, Rotate for writing while it swaps the signer.
	mu      sync.RWMutex
	auth    *authority.Authority
	dir     string
	prov    provisioner.List
	pki     *PKI
	devices *Minter
	admins  *Minter
	apps    *Minter // app certificates (app.go)
	tenant  string
	opts    options
	handler http.Handler
}

// Open loads or creates the PKI in stateDir (see LoadOrCreatePKI) and starts
// the embedded step-ca for tenant, with its database in
// stateDir/DatabaseFile (bbolt). Close releases the database.
func Open(stateDir, tenant string, opt ...Option) (*Embedded, error) {
	o := options{
		now:      time.Now,
		grace:    DefaultRenewalGrace,
		minLife:  DefaultMinLifetime,
		dnsNames: []string{"localhost", "127.0.0.1"},
	}
	for _, f := range opt {
		f(&o)
	}
	if o.log == nil {
		o.log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if o.grace < 0 || o.minLife <= 0 || o.minLife > MaxLifetime {
		return nil, fmt.Errorf("opening ca: invalid grace %s or minimum lifetime %s", o.grace, o.minLife)
	}
	pki, err := LoadOrCreatePKIUnder(stateDir, tenant, o.msp, time.Now())
	if err != nil {
		return nil, fmt.Errorf("opening ca: %w", err)
	}
	prov, err := deviceProvisioner(pki, tenant, o)
	if err != nil {
		return nil, fmt.Errorf("opening ca: %w", err)
	}
	adminProv, err := adminProvisioner(pki, tenant)
	if err != nil {
		return nil, fmt.Errorf("opening ca: %w", err)
	}
	devices, err := NewMinter(pki.ProvisionerKey, ProvisionerName, embeddedAudience)
	if err != nil {
		return nil, fmt.Errorf("opening ca: %w", err)
	}
	admins, err := NewMinter(pki.AdminProvisionerKey, AdminProvisionerName, embeddedAudience)
	if err != nil {
		return nil, fmt.Errorf("opening ca: %w", err)
	}
	appProv, err := newAppProvisioner(pki.ProvisionerKey, tenant, o.minLife)
	if err != nil {
		return nil, fmt.Errorf("opening ca: %w", err)
	}
	apps, err := NewMinter(pki.ProvisionerKey, AppProvisionerName, embeddedAudience)
	if err != nil {
		return nil, fmt.Errorf("opening ca: %w", err)
	}
	e := &Embedded{pki: pki, devices: devices, admins: admins, apps: apps, tenant: tenant, opts: o, dir: stateDir,
		prov: provisioner.List{prov, adminProv, appProv}}
	if err := e.startAuthority(); err != nil {
		return nil, fmt.Errorf("opening ca: %w", err)
	}
	e.handler = e.newHandler()
	o.log.Info("step-ca started", "tenant", tenant, "root_fingerprint", pki.Fingerprint(),
		"provisioner", ProvisionerName, "renewal_grace", o.grace)
	return e, nil
}

// startAuthority starts step-ca over e.pki's current intermediate, with its
// database in e.dir. The caller holds e.mu for writing, or is Open.
func (e *Embedded) startAuthority() error {
	cfg := &config.Config{
		DNSNames: e.opts.dnsNames,
		DB:       &db.Config{Type: "bbolt", DataSource: filepath.Join(e.dir, DatabaseFile)},
		AuthorityConfig: &config.AuthConfig{
			Provisioners: e.prov,
			Backdate:     &provisioner.Duration{Duration: Backdate},
		},
	}
	auth, err := authority.NewEmbedded(
		authority.WithConfig(cfg),
		authority.WithX509RootCerts(e.pki.Root),
		authority.WithX509Signer(e.pki.Intermediate, e.pki.IntermediateKey),
		authority.WithAuthorizeRenewFunc(e.authorizeRenew),
		authority.WithQuietInit(),
	)
	if err != nil {
		return fmt.Errorf("starting step-ca: %w", err)
	}
	e.auth = auth
	return nil
}

// deviceTemplate is the X.509 template of device certificates: the device
// id (the token subject) as CN, the tenant as O, the device URI as the only
// SAN, for TLS client authentication. Whatever names the CSR carries are
// ignored; step-ca still refuses a CSR whose names contradict the token.
const deviceTemplate = `{
	"subject": {
		"commonName": {{ toJson .Subject.CommonName }},
		"organization": {{ toJson .tenant }}
	},
	"sans": {{ toJson .SANs }},
	"keyUsage": ["digitalSignature"],
	"extKeyUsage": ["clientAuth"]
}`

func deviceProvisioner(pki *PKI, tenant string, o options) (*provisioner.JWK, error) {
	return newDeviceProvisioner(pki.ProvisionerKey, tenant, o.grace, o.minLife)
}

// DeviceProvisioner returns the step-ca provisioner that issues device
// certificates with key as its public key, as an external step-ca is
// configured with it (its JSON goes into ca.json's authority.provisioners;
// see docs/serve.md). grace > 0 allows renewal after expiry; an external
// step-ca cannot bound it to a window, as the embedded one does.
func DeviceProvisioner(key *jose.JSONWebKey, tenant string, grace time.Duration) (*provisioner.JWK, error) {
	return newDeviceProvisioner(key, tenant, grace, DefaultMinLifetime)
}

func newDeviceProvisioner(key *jose.JSONWebKey, tenant string, grace, minLife time.Duration) (*provisioner.JWK, error) {
	if key == nil {
		return nil, errors.New("device provisioner: no key")
	}
	pub := key.Public()
	data, err := json.Marshal(map[string]string{"tenant": tenant})
	if err != nil {
		return nil, err
	}
	allowAfterExpiry := grace > 0
	disableRenewal := false
	return &provisioner.JWK{
		Type: "JWK",
		Name: ProvisionerName,
		Key:  &pub,
		Claims: &provisioner.Claims{
			MinTLSDur:               &provisioner.Duration{Duration: minLife},
			MaxTLSDur:               &provisioner.Duration{Duration: MaxLifetime},
			DefaultTLSDur:           &provisioner.Duration{Duration: DefaultLifetime},
			DisableRenewal:          &disableRenewal,
			AllowRenewalAfterExpiry: &allowAfterExpiry,
		},
		Options: &provisioner.Options{X509: &provisioner.X509Options{
			Template:     deviceTemplate,
			TemplateData: data,
		}},
	}, nil
}

// DeviceURI returns the URI SAN of a device certificate:
// urn:kiwistack:device:<tenant>:<id>.
func DeviceURI(tenant, deviceID string) *url.URL { return protocol.DeviceURI(tenant, deviceID) }

// validDeviceID reports whether id is usable in a CN and a URN.
func validDeviceID(id string) bool {
	if id == "" || len(id) > 64 {
		return false
	}
	for _, r := range id {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_' || r == '.') {
			return false
		}
	}
	return true
}

// checkSignRequest refuses a device certificate request that no CA should
// see: an invalid device id, no CSR, or a CSR whose signature does not
// verify. It returns the lifetime to ask for, DefaultLifetime for 0; each
// CA checks the bounds of its own.
func checkSignRequest(csr *x509.CertificateRequest, deviceID string, lifetime time.Duration) (time.Duration, error) {
	if !validDeviceID(deviceID) {
		return 0, fmt.Errorf("signing certificate for device %q: %w: invalid device id", deviceID, ErrRefused)
	}
	if csr == nil {
		return 0, fmt.Errorf("signing certificate for device %s: %w: no csr", deviceID, ErrRefused)
	}
	if err := csr.CheckSignature(); err != nil {
		return 0, fmt.Errorf("signing certificate for device %s: %w: csr signature: %w", deviceID, ErrRefused, err)
	}
	if lifetime == 0 {
		lifetime = DefaultLifetime
	}
	return lifetime, nil
}

// DeviceSANs returns the SANs of a device certificate: the device URI
// (DeviceURI) and the CSR's WireGuard key URI (protocol.WireGuardURIPrefix),
// if it has one; the API has checked that URI against the enrollment. Any
// other name in the CSR is left out, so step-ca refuses the CSR (it wants a
// CSR's URIs to be exactly the token's, or none).
func DeviceSANs(tenant, deviceID string, csr *x509.CertificateRequest) []string {
	sans := []string{DeviceURI(tenant, deviceID).String()}
	for _, u := range csr.URIs {
		if s := u.String(); strings.HasPrefix(s, protocol.WireGuardURIPrefix) {
			sans = append(sans, s)
		}
	}
	return sans
}

// token mints a one-time device-provisioner token for step-ca.
func (e *Embedded) token(subject string, sans []string) (string, error) {
	return e.devices.Mint(subject, sans, nil)
}

// Sign implements Bridge. The caller has authorised the enrollment; step-ca
// still checks the CSR's signature and that its names (if any) are among
// DeviceSANs, and refuses a lifetime outside [minimum, 24 h].
func (e *Embedded) Sign(ctx context.Context, csr *x509.CertificateRequest, deviceID string, lifetime time.Duration) (*x509.Certificate, []*x509.Certificate, error) {
	lifetime, err := checkSignRequest(csr, deviceID, lifetime)
	if err != nil {
		return nil, nil, err
	}
	if lifetime < e.opts.minLife || lifetime > MaxLifetime {
		return nil, nil, fmt.Errorf("signing certificate for device %s: %w: lifetime %s outside [%s, %s]",
			deviceID, ErrRefused, lifetime, e.opts.minLife, MaxLifetime)
	}
	tok, err := e.token(deviceID, DeviceSANs(e.tenant, deviceID, csr))
	if err != nil {
		return nil, nil, fmt.Errorf("signing certificate for device %s: minting token: %w", deviceID, err)
	}
	certs, err := e.signWithToken(ctx, tok, csr, lifetime)
	if err != nil {
		return nil, nil, fmt.Errorf("signing certificate for device %s: %w", deviceID, err)
	}
	e.opts.log.Info("device certificate issued", "device", deviceID, "serial", certs[0].SerialNumber.String(),
		"not_after", certs[0].NotAfter)
	chain := append(certs[1:len(certs):len(certs)], e.pki.Root)
	return certs[0], chain, nil
}

// signWithToken authorises tok with step-ca and signs csr for lifetime (0:
// the provisioner's default); it returns leaf and intermediates.
func (e *Embedded) signWithToken(ctx context.Context, tok string, csr *x509.CertificateRequest, lifetime time.Duration) ([]*x509.Certificate, error) {
	e.mu.RLock()
	defer e.mu.RUnlock()
	ctx = provisioner.NewContextWithMethod(ctx, provisioner.SignMethod)
	signOpts, err := e.auth.Authorize(ctx, tok)
	if err != nil {
		return nil, fmt.Errorf("authorising: %w", stepError(err))
	}
	var so provisioner.SignOptions
	if lifetime > 0 {
		so.NotAfter.SetDuration(lifetime)
	}
	certs, err := e.auth.SignWithContext(ctx, csr, so, signOpts...)
	if err != nil {
		return nil, stepError(err)
	}
	return certs, nil
}

// Revoke implements Bridge with step-ca's passive revocation: the serial is
// recorded revoked in step-ca's database and every later renewal of it is
// refused; the certificate itself stays valid until it expires (at most
// 24 h). Revoking a serial twice is an error wrapping ErrRefused.
func (e *Embedded) Revoke(ctx context.Context, serial, reason string) error {
	if serial == "" || strings.TrimLeft(serial, "0123456789") != "" {
		return fmt.Errorf("revoking certificate %q: %w: serial must be decimal", serial, ErrRefused)
	}
	tok, err := e.token(serial, nil)
	if err != nil {
		return fmt.Errorf("revoking certificate %s: minting token: %w", serial, err)
	}
	e.mu.RLock()
	defer e.mu.RUnlock()
	ctx = provisioner.NewContextWithMethod(ctx, provisioner.RevokeMethod)
	if _, err := e.auth.Authorize(ctx, tok); err != nil {
		return fmt.Errorf("revoking certificate %s: authorising: %w", serial, stepError(err))
	}
	if err := e.auth.Revoke(ctx, &authority.RevokeOptions{
		Serial:      serial,
		Reason:      reason,
		PassiveOnly: true,
		OTT:         tok,
	}); err != nil {
		return fmt.Errorf("revoking certificate %s: %w", serial, stepError(err))
	}
	e.opts.log.Info("certificate revoked", "serial", serial, "reason", reason)
	return nil
}

// IsRevoked reports whether step-ca has serial recorded as revoked.
func (e *Embedded) IsRevoked(serial string) (bool, error) {
	e.mu.RLock()
	defer e.mu.RUnlock()
	ok, err := e.auth.IsRevoked(serial)
	if err != nil {
		return false, fmt.Errorf("checking revocation of %s: %w", serial, err)
	}
	return ok, nil
}

// Roots implements Bridge.
func (e *Embedded) Roots() []*x509.Certificate { return []*x509.Certificate{e.pki.Root} }

// Intermediate returns the tenant intermediate that signs device certificates.
func (e *Embedded) Intermediate() *x509.Certificate {
	e.mu.RLock()
	defer e.mu.RUnlock()
	return e.pki.Intermediate
}

// Fingerprint returns the root's SHA-256 fingerprint (see PKI.Fingerprint).
func (e *Embedded) Fingerprint() string { return e.pki.Fingerprint() }

// ClientCAs returns a pool of the roots, for the tls.Config of the server
// that mounts Handler (with tls.VerifyClientCertIfGiven, as step-ca does).
func (e *Embedded) ClientCAs() *x509.CertPool {
	p := x509.NewCertPool()
	for _, r := range e.Roots() {
		p.AddCert(r)
	}
	return p
}

// Handler serves step-ca's own HTTP API (/health, /roots, /root/{sha},
// /renew, /rekey, /revoke, /intermediates, ... and the same under /1.0),
// exactly as a standalone step-ca does. Mount it (with http.StripPrefix if
// under a prefix) on a TLS server that requests client certificates:
// /renew takes the certificate from the mutual-TLS handshake, or, for a
// certificate past its expiry, from a renewal token signed by its key
// (Authorization: Bearer, x5cInsecure header).
func (e *Embedded) Handler() http.Handler { return e.handler }

func (e *Embedded) newHandler() http.Handler {
	mux := chi.NewRouter()
	api.Route(mux)
	mux.Route("/1.0", func(r chi.Router) { api.Route(r) })
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		e.mu.RLock()
		defer e.mu.RUnlock()
		if r.Method == http.MethodPost && (r.URL.Path == "/renew" || r.URL.Path == "/1.0/renew") && e.refuseRevoked(w, r) {
			return
		}
		ctx := authority.NewContext(r.Context(), e.auth)
		ctx = db.NewContext(ctx, e.auth.GetDatabase())
		mux.ServeHTTP(w, r.WithContext(ctx))
	})
}

// refuseRevoked answers a renewal of a revoked certificate itself, because
// step-ca answers it with a generic 401 that does not tell the device to
// re-enroll. The serial is taken from the client certificate or, unverified,
// from the renewal token's x5cInsecure header: trusting it unverified is
// safe because it can only lead to a refusal. Everything else is left to
// step-ca, which checks revocation again.
func (e *Embedded) refuseRevoked(w http.ResponseWriter, r *http.Request) bool {
	var cert *x509.Certificate
	if r.TLS != nil && len(r.TLS.PeerCertificates) > 0 {
		cert = r.TLS.PeerCertificates[0]
	} else if tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer "); ok {
		jwt, err := jose.ParseSigned(tok)
		if err != nil {
			return false
		}
		chain, err := jose.GetX5cInsecureHeader(jwt)
		if err != nil || len(chain) == 0 {
			return false
		}
		cert = chain[0]
	}
	if cert == nil {
		return false
	}
	serial := cert.SerialNumber.String()
	if cert.CheckSignatureFrom(e.pki.Intermediate) != nil {
		e.opts.log.Info("renewal of a certificate from another intermediate refused", "serial", serial, "cn", cert.Subject.CommonName,
			"issuer", cert.Issuer.String())
		refuse(w, "certificate "+serial+" was not issued by the tenant's current intermediate (it was rotated); "+
			"the agent gets a new certificate from the tenant API (POST /v1/device/reissue)")
		return true
	}
	revoked, err := e.auth.IsRevoked(serial)
	if err != nil || !revoked {
		return false
	}
	e.opts.log.Info("renewal of revoked certificate refused", "serial", serial, "cn", cert.Subject.CommonName)
	refuse(w, "certificate "+serial+" has been revoked; re-enroll the device")
	return true
}

// refuse answers 401 with step-ca's error body shape.
func refuse(w http.ResponseWriter, message string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusUnauthorized)
	_ = json.NewEncoder(w).Encode(struct {
		Status  int    `json:"status"`
		Message string `json:"message"`
	}{http.StatusUnauthorized, message})
}

// Close stops the authority and closes its database.
func (e *Embedded) Close() error {
	e.mu.Lock()
	defer e.mu.Unlock()
	if err := e.auth.Shutdown(); err != nil {
		return fmt.Errorf("closing step-ca: %w", err)
	}
	return nil
}

// authorizeRenew replaces step-ca's default renewal check: step-ca's
// allowRenewalAfterExpiry claim is a yes/no, so the bridge adds the grace
// window, measured with the injected clock. Revocation is checked by
// step-ca before this runs.
func (e *Embedded) authorizeRenew(_ context.Context, p *provisioner.Controller, cert *x509.Certificate) error {
	if p.Claimer.IsDisableRenewal() {
		return errs.New(http.StatusUnauthorized, "renewal is disabled for provisioner %s", p.GetName())
	}
	now := e.opts.now()
	if now.Before(cert.NotBefore) {
		return errs.New(http.StatusUnauthorized, "certificate is not yet valid")
	}
	if now.After(cert.NotAfter) {
		if !p.Claimer.AllowRenewalAfterExpiry() {
			return errs.New(http.StatusUnauthorized, "certificate expired at %s; re-enroll the device", cert.NotAfter.UTC().Format(time.RFC3339))
		}
		if now.Sub(cert.NotAfter) > e.opts.grace {
			return errs.New(http.StatusUnauthorized, "certificate expired at %s, more than %s ago; re-enroll the device",
				cert.NotAfter.UTC().Format(time.RFC3339), e.opts.grace)
		}
	}
	return nil
}

// stepError marks step-ca's client-side refusals (4xx) with ErrRefused,
// keeping step-ca's message.
func stepError(err error) error {
	var se interface{ StatusCode() int }
	if errors.As(err, &se) && se.StatusCode() >= 400 && se.StatusCode() < 500 {
		return fmt.Errorf("%w: %w", ErrRefused, err)
	}
	return err
}
