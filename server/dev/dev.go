// Package dev runs a complete local tenant in one process for development
// and demos: the tenant PKI and embedded step-ca (server/ca), the store
// (server/store) and the enrollment API (server/api), served together on
// one TLS listener with a server certificate issued, once, by the tenant
// intermediate.
//
// It owns the layout of the dev state directory (ca/, api.db, tls.crt,
// tls.key, operator/: a dev KiwiStack operator anchor and key for
// co-signatures) and the wiring between those packages. It does not decide
// enrollments, keep the roster's rules, or talk to an external step-ca.
package dev

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/kiwistack/endpoint/internal/atomicfile"
	"github.com/kiwistack/endpoint/server/api"
	"github.com/kiwistack/endpoint/server/ca"
	"github.com/kiwistack/endpoint/server/policy"
	"github.com/kiwistack/endpoint/server/serve"
	"github.com/kiwistack/endpoint/server/store"
)

// Layout of the state directory.
const (
	// CADir holds the tenant PKI and step-ca's database (server/ca).
	CADir = "ca"
	// DBFile is the API's SQLite store.
	DBFile = "api.db"
	// TLSCertFile and TLSKeyFile are the API's TLS server certificate
	// (leaf, then the tenant intermediate) and its key (0600).
	TLSCertFile = "tls.crt"
	TLSKeyFile  = "tls.key"
)

// DefaultListen is the address Run listens on when Options.Listen is empty.
const DefaultListen = "127.0.0.1:8443"

// Validity of the TLS server certificate and how long before its expiry
// Run issues a new one.
const (
	ServerCertLifetime = 365 * 24 * time.Hour
	serverCertRenewal  = 30 * 24 * time.Hour
)

// CAPath returns the PKI directory of the state directory dir.
func CAPath(dir string) string { return filepath.Join(dir, CADir) }

// DBPath returns the store's path in the state directory dir.
func DBPath(dir string) string { return filepath.Join(dir, DBFile) }

// CommandKeyFile is the API's command-signing key in the state directory
// (Ed25519, PEM, 0600), made on the first run (api.LoadOrCreateCommandKey).
const CommandKeyFile = "command.key"

// EscrowKeyFile is the tenant's disk-escrow private key in the state
// directory (X25519, PEM, 0600), made on the first run
// (api.LoadOrCreateEscrowKey, docs/disk-escrow.md).
const EscrowKeyFile = "escrow.key"

// Options configures Run.
type Options struct {
	// StateDir holds everything the tenant keeps across restarts (required).
	StateDir string
	// MSPDir, when set, holds the MSP root (root_ca.crt and root_ca.key)
	// that signs this tenant's intermediate, so that several dev tenants
	// share one root with independent intermediates; created if missing.
	// Empty: the state directory has a root of its own.
	MSPDir string
	// Tenant is the tenant slug (required).
	Tenant string
	// Listen is the TCP address to serve on; DefaultListen when empty.
	// Port 0 picks a free port (Info.APIURL names it).
	Listen string
	// Logger receives the server's logs; discarded when nil.
	Logger *slog.Logger
	// Out receives the human summary (URLs, fingerprint, next steps);
	// discarded when nil.
	Out io.Writer
	// Ready, when set, is called once the listener accepts connections.
	Ready func(Info)
	// PolicyFile is the tenant's policies/authorization.yaml; empty: the
	// default policy (server/policy.Default).
	PolicyFile string
	// AttestationRootFile names PEM roots trusted for YubiKey attestations
	// besides Yubico's (the virtual YubiKey's, for tests and demos); a loud
	// warning is logged for each.
	AttestationRootFile string
	// Hub, when set, runs the WireGuard hub with an in-process userspace
	// device (Linux, root, /dev/net/tun).
	Hub *HubOptions
	// DeviceLifetime is the lifetime of device certificates
	// (api.DeviceLifetime when 0); shorter than a minute lowers the CA's
	// minimum to match (tests).
	DeviceLifetime time.Duration
	// Directory, when set, is the tenant's directory that every
	// AgentConfig names for directory login (docs/directory.md).
	Directory *serve.DirectoryConfig
	// Fleet, when set, is the tenant's Fleet server that every
	// AgentConfig names for fleetd (docs/fleet.md); its enroll-secret
	// file must be 0600.
	Fleet *serve.FleetConfig
}

// Info describes a running dev tenant.
type Info struct {
	// APIURL is the base URL of the enrollment API (/v1/…, /healthz, /readyz).
	APIURL string
	// CAURL is the base URL of step-ca's own API (/health, /roots, /renew,
	// …); the same origin as APIURL, at step-ca's native paths.
	CAURL string
	// RootFingerprint is the SHA-256 of the tenant root certificate (hex).
	RootFingerprint string
	// RootFile is the path of the tenant root certificate (PEM).
	RootFile string
	// ProvisioningTokenFile holds the MSP's provisioning token for POST
	// /v1/admin-certificates (0600, made once, kept across restarts).
	ProvisioningTokenFile string
}

// Run brings up the tenant described by o and serves until ctx is
// cancelled, then shuts down gracefully and returns nil. Everything is
// created on the first run and loaded afterwards, so a restart with the
// same StateDir keeps the root, the roster and the devices.
//
// Routes: the API's /v1/…, /healthz and /readyz, and every other path to
// step-ca's handler at its native paths, so that step's clients, which
// resolve absolute paths against the CA URL, work against the same origin.
// The listener requests, but does not require, a client certificate
// issued under the tenant root (for /renew).
func Run(ctx context.Context, o Options) error {
	if o.StateDir == "" || o.Tenant == "" {
		return errors.New("running dev tenant: state directory and tenant are required")
	}
	if o.Listen == "" {
		o.Listen = DefaultListen
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Out == nil {
		o.Out = io.Discard
	}
	if err := os.MkdirAll(o.StateDir, 0o700); err != nil {
		return fmt.Errorf("creating state directory: %w", err)
	}
	ln, err := net.Listen("tcp", o.Listen)
	if err != nil {
		return fmt.Errorf("listening on %s: %w", o.Listen, err)
	}
	defer ln.Close()
	names := hostNames(o.Listen)
	var msp *ca.MSP
	if o.MSPDir != "" {
		if msp, err = ca.LoadOrCreateMSP(o.MSPDir, time.Now()); err != nil {
			return fmt.Errorf("running dev tenant: %w", err)
		}
	}
	pki, err := ca.LoadOrCreatePKIUnder(CAPath(o.StateDir), o.Tenant, msp, time.Now())
	if err != nil {
		return fmt.Errorf("running dev tenant: %w", err)
	}
	cert, err := serverCertificate(o.StateDir, pki, names, time.Now())
	if err != nil {
		return fmt.Errorf("running dev tenant: %w", err)
	}
	caOpts := []ca.Option{ca.WithLogger(o.Logger), ca.WithDNSNames(names...), ca.WithMSP(msp)}
	if o.DeviceLifetime > 0 && o.DeviceLifetime < ca.DefaultMinLifetime {
		caOpts = append(caOpts, ca.WithMinLifetime(o.DeviceLifetime))
	}
	e, err := ca.Open(CAPath(o.StateDir), o.Tenant, caOpts...)
	if err != nil {
		return fmt.Errorf("running dev tenant: %w", err)
	}
	defer e.Close()
	tokenSHA256, err := provisioningToken(o.StateDir)
	if err != nil {
		return fmt.Errorf("running dev tenant: %w", err)
	}
	verifier, err := attestationVerifier(o.AttestationRootFile, o.Logger)
	if err != nil {
		return fmt.Errorf("running dev tenant: %w", err)
	}
	operator, err := LoadOrCreateOperator(o.StateDir, time.Now())
	if err != nil {
		return fmt.Errorf("running dev tenant: %w", err)
	}
	operatorRoots := x509.NewCertPool()
	operatorRoots.AddCert(operator.Root)
	commandKey, err := api.LoadOrCreateCommandKey(filepath.Join(o.StateDir, CommandKeyFile), nil)
	if err != nil {
		return fmt.Errorf("running dev tenant: %w", err)
	}
	escrowKey, err := api.LoadOrCreateEscrowKey(filepath.Join(o.StateDir, EscrowKeyFile))
	if err != nil {
		return fmt.Errorf("running dev tenant: %w", err)
	}
	var pol *policy.Policy
	if o.PolicyFile != "" {
		if pol, err = policy.LoadFile(o.PolicyFile); err != nil {
			return fmt.Errorf("running dev tenant: %w", err)
		}
	}

	base := "https://" + net.JoinHostPort(urlHost(o.Listen), portOf(ln.Addr()))
	info := Info{
		APIURL:          base,
		CAURL:           base,
		RootFingerprint: e.Fingerprint(),
		RootFile:        filepath.Join(CAPath(o.StateDir), ca.RootCertFile),

		ProvisioningTokenFile: ProvisioningTokenPath(o.StateDir),
	}
	site := serve.Site{
		API: api.Config{
			Tenant:          o.Tenant,
			CA:              e,
			Intermediate:    e.Intermediate(),
			APIURL:          info.APIURL,
			CAURL:           info.CAURL,
			RootFingerprint: info.RootFingerprint,

			ProvisioningTokenSHA256: tokenSHA256,
			AttestationVerifier:     verifier,
			Policy:                  pol,
			OperatorRoots:           operatorRoots,
			DeviceLifetime:          o.DeviceLifetime,
			CommandKey:              commandKey,
			EscrowKey:               escrowKey,
		},
		DBPath:    DBPath(o.StateDir),
		CAHandler: e.Handler(),
		TLS: &tls.Config{
			MinVersion:   tls.VersionTLS12,
			Certificates: []tls.Certificate{cert},
			ClientAuth:   tls.VerifyClientCertIfGiven,
			ClientCAs:    e.ClientCAs(),
		},
		Logger: o.Logger,
	}
	if o.Directory != nil {
		if site.API.Directory, err = o.Directory.Load(); err != nil {
			return fmt.Errorf("running dev tenant: %w", err)
		}
	}
	if o.Fleet != nil {
		if site.API.Fleet, err = o.Fleet.Load(); err != nil {
			return fmt.Errorf("running dev tenant: %w", err)
		}
	}
	if o.Hub != nil {
		ho, stop, err := startHub(o.StateDir, *o.Hub, o.Logger)
		if err != nil {
			return fmt.Errorf("running dev tenant: %w", err)
		}
		defer stop()
		site.Hub = ho
	}
	err = serve.Serve(ctx, ln, site, func() {
		if err := writeURL(o.StateDir, info.APIURL); err != nil {
			o.Logger.Warn("recording the API URL for the CLI", "err", err)
		}
		o.Logger.Info("dev tenant serving", "tenant", o.Tenant, "api_url", info.APIURL, "root_fingerprint", info.RootFingerprint)
		printInfo(o.Out, o, info)
		if o.Ready != nil {
			o.Ready(info)
		}
	})
	if err != nil {
		return fmt.Errorf("running dev tenant: %w", err)
	}
	_ = os.Remove(filepath.Join(o.StateDir, URLFile))
	o.Logger.Info("dev tenant stopped", "tenant", o.Tenant)
	return nil
}

// printInfo writes the human summary of a running tenant.
func printInfo(w io.Writer, o Options, info Info) {
	fmt.Fprintf(w, "KiwiStack dev tenant %s is running.\n", o.Tenant)
	fmt.Fprintf(w, "  API URL:          %s\n", info.APIURL)
	fmt.Fprintf(w, "  CA URL:           %s\n", info.CAURL)
	fmt.Fprintf(w, "  Root fingerprint: %s\n", info.RootFingerprint)
	fmt.Fprintf(w, "  Root certificate: %s\n", info.RootFile)
	fmt.Fprintf(w, "  Provisioning:     %s (the MSP's token for admin certificates, 0600)\n", info.ProvisioningTokenFile)
	fmt.Fprintf(w, "  State:            %s\n", o.StateDir)
	if o.AttestationRootFile != "" {
		fmt.Fprintf(w, "  WARNING: YubiKey attestations under %s are trusted too: test keys only.\n", o.AttestationRootFile)
	}
	fmt.Fprintln(w, "Next:")
	fmt.Fprintf(w, "  kiwistack-enroll keys provision --factory-defaults --admin NAME --role sysadmin --tenant %s \\\n"+
		"    --api %s --root-fingerprint %s \\\n    --provisioning-token-file %s --roster-out roster.yaml\n",
		o.Tenant, info.APIURL, info.RootFingerprint, info.ProvisioningTokenFile)
	fmt.Fprintf(w, "  kiwistack-api roster add --state %s roster.yaml\n", o.StateDir)
	fmt.Fprintf(w, "  kiwistack-enroll enroll --api %s --tenant %s --root-fingerprint %s\n", info.APIURL, o.Tenant, info.RootFingerprint)
	fmt.Fprintln(w, "Stop with Ctrl-C; restarting with the same --state keeps everything.")
}

// hostNames returns the names the server certificate and step-ca answer
// to: localhost, 127.0.0.1 and the listen host when it is a specific one.
func hostNames(listen string) []string {
	names := []string{"localhost", "127.0.0.1"}
	host, _, err := net.SplitHostPort(listen)
	if err != nil || host == "" {
		return names
	}
	if ip := net.ParseIP(host); ip != nil && ip.IsUnspecified() {
		return names
	}
	if !slices.Contains(names, host) {
		names = append(names, host)
	}
	return names
}

// urlHost is the host to put in the printed URLs.
func urlHost(listen string) string {
	host, _, err := net.SplitHostPort(listen)
	if err != nil || host == "" {
		return "localhost"
	}
	if ip := net.ParseIP(host); ip != nil && ip.IsUnspecified() {
		return "localhost"
	}
	return host
}

func portOf(a net.Addr) string {
	_, port, err := net.SplitHostPort(a.String())
	if err != nil {
		return a.String()
	}
	return port
}

// serverCertificate loads the TLS server certificate from dir, or issues a
// new one from the tenant intermediate when it is missing, does not chain
// to the intermediate, lacks one of names, or expires within
// serverCertRenewal. The key is written 0600, before the certificate.
func serverCertificate(dir string, pki *ca.PKI, names []string, now time.Time) (tls.Certificate, error) {
	certPath, keyPath := filepath.Join(dir, TLSCertFile), filepath.Join(dir, TLSKeyFile)
	if cert, err := tls.LoadX509KeyPair(certPath, keyPath); err == nil && usable(cert, pki, names, now) {
		return cert, nil
	}
	if pki.IntermediateKey == nil {
		return tls.Certificate{}, errors.New("issuing tls certificate: the intermediate key is missing")
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("generating tls key: %w", err)
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 128))
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("generating serial: %w", err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{Organization: pki.Intermediate.Subject.Organization, CommonName: names[0]},
		NotBefore:    now.Add(-time.Minute),
		NotAfter:     now.Add(ServerCertLifetime),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	for _, n := range names {
		if ip := net.ParseIP(n); ip != nil {
			tmpl.IPAddresses = append(tmpl.IPAddresses, ip)
		} else {
			tmpl.DNSNames = append(tmpl.DNSNames, n)
		}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, pki.Intermediate, key.Public(), pki.IntermediateKey)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("signing tls certificate: %w", err)
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("parsing tls certificate: %w", err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("encoding tls key: %w", err)
	}
	keyPEM := pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER})
	certPEM := ca.PEM(leaf, pki.Intermediate)
	if err := atomicfile.WriteFile(keyPath, keyPEM, 0o600); err != nil {
		return tls.Certificate{}, fmt.Errorf("writing tls key: %w", err)
	}
	if err := atomicfile.WriteFile(certPath, certPEM, 0o644); err != nil {
		return tls.Certificate{}, fmt.Errorf("writing tls certificate: %w", err)
	}
	return tls.X509KeyPair(certPEM, keyPEM)
}

// usable reports whether cert chains to the tenant intermediate, names
// every host in names and is not close to expiry.
func usable(cert tls.Certificate, pki *ca.PKI, names []string, now time.Time) bool {
	leaf := cert.Leaf
	if leaf == nil || leaf.CheckSignatureFrom(pki.Intermediate) != nil || now.Add(serverCertRenewal).After(leaf.NotAfter) {
		return false
	}
	for _, n := range names {
		if leaf.VerifyHostname(n) != nil {
			return false
		}
	}
	return true
}

// ErrNoState reports a state directory without a store: `kiwistack-api
// dev` never ran on it.
var ErrNoState = errors.New("no tenant state")

// OpenStore opens the store of the state directory dir for the
// server-side CLIs (roster, devices, bootstrap, audit), which work on the
// same files as a running or stopped `kiwistack-api dev`. The error wraps
// ErrNoState, saying what to run, when dir holds no store.
func OpenStore(ctx context.Context, dir string) (*store.SQLite, error) {
	path := DBPath(dir)
	if _, err := os.Stat(path); errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("%w in %s: run kiwistack-api dev --state %s first", ErrNoState, dir, dir)
	}
	st, err := store.Open(ctx, path)
	if err != nil {
		return nil, fmt.Errorf("opening the store: %w", err)
	}
	return st, nil
}
