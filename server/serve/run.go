package serve

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"

	"golang.zx2c4.com/wireguard/wgctrl"

	"github.com/kiwistack/endpoint/server/api"
	"github.com/kiwistack/endpoint/server/ca"
	"github.com/kiwistack/endpoint/server/hub"
	"github.com/kiwistack/endpoint/server/policy"
)

// Options configures Run.
type Options struct {
	// Logger receives the server's logs; discarded when nil.
	Logger *slog.Logger
	// Out receives the human summary; discarded when nil.
	Out io.Writer
	// Ready, when set, is called once the listener accepts connections.
	Ready func(Info)
}

// Info describes a running server.
type Info struct {
	// Addr is the address the listener is bound to (the port is the real
	// one when the configuration asked for port 0).
	Addr string
	// APIURL and CAURL are the base URLs given to agents.
	APIURL, CAURL string
	// RootFingerprint is the pinned step-ca root's SHA-256 (hex).
	RootFingerprint string
}

// Run serves the tenant API of cfg against its external step-ca until ctx
// is cancelled, then shuts down gracefully and returns nil. It loads the
// provisioner keys, bootstraps trust in step-ca (ca.DialRemote: the root
// must have cfg.CA.RootFingerprint) and takes step-ca's intermediate as the
// trust anchor for administrators' certificates, then serves through Serve.
// /readyz also asks step-ca's /health.
func Run(ctx context.Context, cfg *Config, o Options) error {
	if cfg == nil {
		return errors.New("running server: no configuration")
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Out == nil {
		o.Out = io.Discard
	}
	rc := ca.RemoteConfig{
		URL: cfg.CA.URL, RootFingerprint: cfg.CA.RootFingerprint, Tenant: cfg.Tenant,
		Timeout: cfg.CA.Timeout, Logger: o.Logger,
	}
	var err error
	rc.Devices.Name = cfg.CA.Devices.Name
	if rc.Devices.Key, err = ca.LoadProvisionerKey(cfg.CA.Devices.KeyFile, cfg.CA.Devices.PasswordFile); err != nil {
		return fmt.Errorf("running server: device provisioner: %w", err)
	}
	if cfg.CA.Admins.KeyFile != "" {
		rc.Admins.Name = cfg.CA.Admins.Name
		if rc.Admins.Key, err = ca.LoadProvisionerKey(cfg.CA.Admins.KeyFile, cfg.CA.Admins.PasswordFile); err != nil {
			return fmt.Errorf("running server: admin provisioner: %w", err)
		}
	}
	var pol *policy.Policy
	if cfg.PolicyFile != "" {
		if pol, err = policy.LoadFile(cfg.PolicyFile); err != nil {
			return fmt.Errorf("running server: %w", err)
		}
	}
	cert, err := tls.LoadX509KeyPair(cfg.TLS.CertFile, cfg.TLS.KeyFile)
	if err != nil {
		return fmt.Errorf("running server: loading the tls certificate %s and key %s: %w", cfg.TLS.CertFile, cfg.TLS.KeyFile, err)
	}
	remote, err := ca.DialRemote(ctx, rc)
	if err != nil {
		return fmt.Errorf("running server: %w", err)
	}
	defer remote.Close()
	if err := os.MkdirAll(filepath.Dir(cfg.Database), 0o700); err != nil {
		return fmt.Errorf("running server: creating the database directory: %w", err)
	}
	ln, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		return fmt.Errorf("running server: listening on %s: %w", cfg.Listen, err)
	}
	info := Info{Addr: ln.Addr().String(), APIURL: cfg.APIURL, CAURL: cfg.CA.AgentURL, RootFingerprint: remote.Fingerprint()}
	if info.CAURL == "" {
		info.CAURL = cfg.CA.URL
	}
	site := Site{
		API: api.Config{
			Tenant:                  cfg.Tenant,
			CA:                      remote,
			Intermediate:            remote.Intermediate(),
			Logger:                  o.Logger,
			APIURL:                  info.APIURL,
			CAURL:                   info.CAURL,
			RootFingerprint:         info.RootFingerprint,
			ProvisioningTokenSHA256: cfg.ProvisioningTokenSHA256,
			Policy:                  pol,
		},
		DBPath: cfg.Database,
		// Client certificates are requested, not required: devices check
		// in with theirs (GET /v1/device/config).
		TLS: &tls.Config{MinVersion: tls.VersionTLS12, Certificates: []tls.Certificate{cert},
			ClientAuth: tls.VerifyClientCertIfGiven, ClientCAs: rootPool(remote.Roots())},
		Ready:  remote.Health,
		Logger: o.Logger,
	}
	if cfg.CommandKeyFile != "" {
		if site.API.CommandKey, err = api.LoadOrCreateCommandKey(cfg.CommandKeyFile, nil); err != nil {
			return fmt.Errorf("running server: %w", err)
		}
	}
	if cfg.Directory != nil {
		if site.API.Directory, err = cfg.Directory.Load(); err != nil {
			return fmt.Errorf("running server: %w", err)
		}
	}
	if cfg.Fleet != nil {
		if site.API.Fleet, err = cfg.Fleet.Load(); err != nil {
			return fmt.Errorf("running server: %w", err)
		}
	}
	if cfg.EscrowKeyFile != "" {
		if site.API.EscrowKey, err = api.LoadOrCreateEscrowKey(cfg.EscrowKeyFile); err != nil {
			return fmt.Errorf("running server: %w", err)
		}
	}
	if h := cfg.Hub; h != nil {
		key, err := hub.LoadOrCreateKey(h.KeyFile, nil)
		if err != nil {
			return fmt.Errorf("running server: %w", err)
		}
		wg, err := wgctrl.New()
		if err != nil {
			return fmt.Errorf("running server: opening wgctrl for the hub: %w", err)
		}
		defer wg.Close()
		site.Hub = &hub.Options{Interface: h.Interface, Prefix: h.Prefix, Endpoint: h.Endpoint, ListenPort: h.ListenPort,
			PrivateKey: key, Client: wg}
	}
	err = Serve(ctx, ln, site, func() {
		o.Logger.Info("server serving", "tenant", cfg.Tenant, "addr", info.Addr, "api_url", info.APIURL,
			"ca_url", remote.URL(), "root_fingerprint", info.RootFingerprint)
		fmt.Fprintf(o.Out, "KiwiStack API for tenant %s is serving on %s.\n", cfg.Tenant, info.Addr)
		fmt.Fprintf(o.Out, "  API URL:          %s\n", info.APIURL)
		fmt.Fprintf(o.Out, "  CA URL (agents):  %s\n", info.CAURL)
		fmt.Fprintf(o.Out, "  Root fingerprint: %s\n", info.RootFingerprint)
		fmt.Fprintln(o.Out, "Check it with GET /readyz (store and step-ca); stop with Ctrl-C or SIGTERM.")
		if o.Ready != nil {
			o.Ready(info)
		}
	})
	if err != nil {
		return fmt.Errorf("running server: %w", err)
	}
	o.Logger.Info("server stopped", "tenant", cfg.Tenant)
	return nil
}

// rootPool is a pool of roots.
func rootPool(roots []*x509.Certificate) *x509.CertPool {
	p := x509.NewCertPool()
	for _, r := range roots {
		p.AddCert(r)
	}
	return p
}
