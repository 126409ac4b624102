// Package api is the tenant API's HTTP surface for the enrollment ceremony:
// POST /v1/challenges issues a one-time challenge for an operation, POST
// /v1/enrollments checks an administrator's signed enroll_device statement
// and, when every check passes, has the CA sign the device's CSR and records
// the device, POST /v1/claims does the same for an OEM laptop's first-boot
// claim with a single-use bootstrap token, POST /v1/admin-certificates issues an administrator's slot 9a
// certificate to the MSP (provisioning token, verified YubiKey attestation),
// POST /v1/admin-certificates/reissue issues it again under the current
// intermediate for a key the roster pins (admin_reissue.go),
// and /healthz and /readyz report liveness and readiness. /v1/operations
// is the seven hops of every other privileged operation (request, sign,
// cancel, read; server/authz decides, operations.go applies), and GET
// /v1/audit serves the hash-chained audit log.
//
// Every rejected enrollment answers with a protocol.ErrorResponse carrying a
// stable reason code and a safe message, writes exactly one audit entry and
// nothing else; the cause goes to the log only. The package decides nothing
// about storage or certificates itself: it uses a store.Store and a CA
// passed in, and it does not serve TLS or the CA's own API. With
// Config.Metrics it reports challenges, enrollment outcomes and operation
// events to server/metrics and serves GET /metrics; docs/openapi.yaml
// describes every route, and a test keeps it true.
package api

import (
	"context"
	"crypto/ed25519"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net/http"
	"slices"
	"sync/atomic"
	"time"

	"github.com/kiwistack/endpoint/attest"
	"github.com/kiwistack/endpoint/enroll/protocol"
	"github.com/kiwistack/endpoint/internal/escrow"
	"github.com/kiwistack/endpoint/server/authz"
	"github.com/kiwistack/endpoint/server/ca"
	"github.com/kiwistack/endpoint/server/metrics"
	"github.com/kiwistack/endpoint/server/policy"
	"github.com/kiwistack/endpoint/server/store"
)

// Roles of the default policy (server/policy.DefaultRoles), most senior first.
const (
	RoleFounder   = "founder"
	RoleSysadmin  = "sysadmin"
	RoleOfficeMgr = "office-mgr"
)

// Timing of the ceremony.
const (
	// ChallengeLifetime is how long a challenge's nonce is accepted.
	ChallengeLifetime = 5 * time.Minute
	// ClockSkew is how far a statement's timestamp may be from the
	// server's clock, either way.
	ClockSkew = 5 * time.Minute
	// DeviceLifetime is the lifetime of an enrolled device's certificate.
	DeviceLifetime = 24 * time.Hour
)

// nonceBytes is the length of a challenge nonce before encoding.
const nonceBytes = 32

// CA is what the API needs from the certificate authority: signing a
// device's CSR. *ca.Embedded implements it.
type CA interface {
	// Sign issues a certificate for deviceID to the key of csr, valid for
	// lifetime, and returns it with the chain above it (intermediates,
	// then the root).
	Sign(ctx context.Context, csr *x509.CertificateRequest, deviceID string, lifetime time.Duration) (leaf *x509.Certificate, chain []*x509.Certificate, err error)
	// Revoke revokes a certificate by serial (decimal), so that it is never
	// renewed. The API uses it for a certificate it issued but could not record.
	Revoke(ctx context.Context, serial string, reason string) error
	// SignAdmin issues an administrator's slot 9a certificate (CN admin,
	// OU role, O tenant) and returns it with the chain above it, the root
	// last.
	SignAdmin(ctx context.Context, req ca.AdminRequest) (leaf *x509.Certificate, chain []*x509.Certificate, err error)
}

// Config configures New.
type Config struct {
	// Tenant is the tenant slug this API serves (required).
	Tenant string
	// Store holds the roster, nonces, devices and audit log (required).
	Store store.Store
	// CA signs device certificates (required).
	CA CA
	// Intermediate is the tenant's intermediate certificate, the only
	// trust anchor for administrators' slot 9a certificates (required).
	Intermediate *x509.Certificate
	// Now is the clock; time.Now when nil.
	Now func() time.Time
	// Logger receives causes of errors; discarded when nil.
	Logger *slog.Logger
	// Policy is the tenant's policies/authorization.yaml: its roles and
	// the single signer role of enroll_device. policy.Default(Tenant) when
	// nil.
	Policy *policy.Policy
	// MaxBody bounds request bodies; protocol.MaxRequestBytes when 0.
	MaxBody int64
	// CAURL, APIURL and RootFingerprint are passed to the agent in
	// EnrollResponse.Config; RootFingerprint is computed from the chain
	// the CA returns when empty.
	CAURL, APIURL, RootFingerprint string
	// ProvisioningTokenSHA256 is the SHA-256 of the MSP's provisioning
	// token, which authenticates POST /v1/admin-certificates; empty
	// disables that endpoint.
	ProvisioningTokenSHA256 []byte
	// AttestationVerifier checks YubiKey attestations of admin keys (zero
	// value: Yubico's roots; its clock defaults to Now).
	AttestationVerifier attest.Verifier
	// Metrics, when set, counts requests, challenges and enrollment
	// outcomes, and is served at GET /metrics on this handler (restrict
	// that path at the proxy, or serve Metrics.Handler on a separate
	// listener). No metrics when nil.
	Metrics *metrics.Metrics
	// OperatorRoots are the KiwiStack operators' trust anchors: a
	// statement whose chain verifies against them (and not against
	// Intermediate) is an operator co-signature (operations.go). No
	// operator can co-sign when nil.
	OperatorRoots *x509.CertPool
	// Tunnel, when set, is the tenant's WireGuard hub (server/hub): its
	// configuration goes into every AgentConfig, and GET /v1/device/config
	// serves it (deviceconfig.go).
	Tunnel Tunnel
	// DeviceLifetime is the lifetime of device certificates;
	// DeviceLifetime when 0 (tests use minutes, with the CA's minimum
	// lowered to match).
	DeviceLifetime time.Duration
	// CommandKey signs the commands an applied remote_lock or remote_wipe
	// queues for its device (commands.go); its public key goes into every
	// AgentConfig, where the agent pins it at enrollment. No command is
	// queued when nil (the operation still locks the device out).
	CommandKey ed25519.PrivateKey
	// Fleet is the tenant's Fleet server, which every AgentConfig names
	// for the agent to configure fleetd with (agent/fleet); none when nil.
	Fleet *protocol.FleetConfig
	// Directory is the tenant's directory (LDAP and Kerberos on the
	// tunnel), which every AgentConfig names for the agent to configure
	// SSSD with (agent/directory, docs/directory.md); none when nil.
	Directory *protocol.DirectoryConfig
	// EscrowKey is the tenant's disk-escrow key (LoadOrCreateEscrowKey):
	// its public key goes into every AgentConfig, and read_recovery_key
	// opens escrowed recovery keys with it (escrow.go). No key is
	// escrowed when nil.
	EscrowKey *escrow.PrivateKey
}

// Server is the tenant API's http.Handler.
type Server struct {
	cfg Config
	// anchor is the pool holding the tenant intermediate (anchors); a
	// rotate_intermediate replaces it.
	anchor atomic.Pointer[x509.CertPool]
	log    *slog.Logger
	mux    *http.ServeMux
	// handler is mux, wrapped by Config.Metrics when set.
	handler http.Handler
	// claims limits failed claims per remote address.
	claims claimLimiter
	// reissues limits failed admin certificate reissues per remote
	// address (admin_reissue.go).
	reissues claimLimiter
	// ops is the operations API's state (operations.go).
	ops operations
}

// New checks cfg and returns the API's handler.
func New(cfg Config) (*Server, error) {
	switch {
	case cfg.Tenant == "":
		return nil, errors.New("creating api: no tenant")
	case cfg.Store == nil:
		return nil, errors.New("creating api: no store")
	case cfg.CA == nil:
		return nil, errors.New("creating api: no ca")
	case cfg.Intermediate == nil:
		return nil, errors.New("creating api: no tenant intermediate")
	}
	if cfg.Policy == nil {
		cfg.Policy = policy.Default(cfg.Tenant)
	}
	if cfg.Policy.Tenant != "" && cfg.Policy.Tenant != cfg.Tenant {
		return nil, fmt.Errorf("creating api: the policy is tenant %q's, not %q's", cfg.Policy.Tenant, cfg.Tenant)
	}
	stored, err := StoredPolicy(context.Background(), cfg.Store, cfg.Tenant, cfg.Policy)
	if err != nil {
		return nil, fmt.Errorf("creating api: %w", err)
	}
	cfg.Policy = stored
	if _, ok := cfg.Policy.SingleSigner(protocol.OpEnrollDevice); !ok {
		return nil, errors.New("creating api: the policy's enroll_device must be one signature of a role (n-of-m, delays and operator co-signatures need the operations API)")
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.AttestationVerifier.Now == nil {
		cfg.AttestationVerifier.Now = cfg.Now
	}
	if cfg.MaxBody <= 0 {
		cfg.MaxBody = protocol.MaxRequestBytes
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	s := &Server{cfg: cfg, log: log, mux: http.NewServeMux()}
	s.setAnchor(cfg.Intermediate)
	s.mux.HandleFunc("POST /v1/challenges", s.handleChallenge)
	s.mux.HandleFunc("POST /v1/enrollments", s.handleEnroll)
	s.mux.HandleFunc("POST /v1/admin-certificates", s.handleAdminCertificate)
	s.mux.HandleFunc("POST /v1/admin-certificates/reissue", s.handleAdminReissue)
	s.mux.HandleFunc("POST /v1/claims", s.handleClaim)
	s.mux.HandleFunc("GET /v1/device/config", s.handleDeviceConfig)
	s.mux.HandleFunc("POST /v1/device/reissue", s.handleDeviceReissue)
	s.mux.HandleFunc("POST /v1/device/app-certificate", s.handleAppCertificate)
	s.mux.HandleFunc("GET /v1/device/commands", s.handleDeviceCommands)
	s.mux.HandleFunc("POST /v1/device/commands/{id}/ack", s.handleCommandAck)
	s.mux.HandleFunc("GET /healthz", s.handleHealth)
	s.mux.HandleFunc("GET /readyz", s.handleReady)
	s.initOperations()
	s.initDiskEscrow()
	s.handler = s.mux
	if cfg.Metrics != nil {
		cfg.Metrics.InitReasons(EnrollmentReasons()...)
		cfg.Metrics.InitOperations(slices.Collect(maps.Keys(cfg.Policy.Operations))...)
		cfg.Metrics.InitSignatureReasons(authz.SignatureReasons()...)
		s.mux.Handle("GET /metrics", cfg.Metrics.Handler())
		s.handler = cfg.Metrics.Wrap(s.mux)
	}
	return s, nil
}

// ServeHTTP implements http.Handler.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.handler.ServeHTTP(w, r)
}

// handleHealth answers while the process serves requests.
func (s *Server) handleHealth(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
}

// handleReady answers 200 when the store answers a query.
func (s *Server) handleReady(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
	defer cancel()
	// A lookup of a nonce that is never issued (it is not base64url of 16
	// bytes) is a cheap indexed query that touches the database.
	_, err := s.cfg.Store.LookupNonce(ctx, "readyz-probe")
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		s.log.Error("readiness check failed", "err", err)
		writeError(w, &apiError{status: http.StatusServiceUnavailable, reason: ReasonNotReady,
			message: "the store is not reachable; check the server's log and its database"})
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"status": "ready"})
}
