package tunnel

import (
	"bytes"
	"context"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/kiwistack/endpoint/agent/enrollment"
	"github.com/kiwistack/endpoint/agent/status"
	"github.com/kiwistack/endpoint/agent/wgkey"
	"github.com/kiwistack/endpoint/enroll/protocol"
	"github.com/kiwistack/endpoint/internal/atomicfile"
	"github.com/kiwistack/endpoint/internal/pemkey"
)

// ConfigFile is the last configuration the check-in returned, in the
// state directory, with the serial of the certificate it was fetched with.
const ConfigFile = "tunnel-config.json"

// States of the tunnel, as status shows them.
const (
	StateNotConfigured = "not configured"
	StateUp            = "up"
	StateDown          = "down"
	StateRevoked       = "revoked"
	StateLocked        = "locked"
	StateError         = "error"
)

// Retry bounds of a failed check-in or bring-up.
const retryMin, retryMax = 5 * time.Second, 30 * time.Minute

// Options configure a Controller.
type Options struct {
	// Interface is the interface name (DefaultInterface when empty).
	Interface string
	// StateDir holds ConfigFile (and, on macOS and Windows, the profile).
	StateDir string
	// Record returns the enrollment, nil when not enrolled.
	Record func() *enrollment.Record
	// Revoked reports whether the certificate controller learned that the
	// certificate is revoked.
	Revoked func() bool
	// Locked reports whether a remote lock or wipe ran (agent/command):
	// the tunnel then goes down and stays down. Never when nil.
	Locked func() bool
	// Backend runs the tunnel; the OS's when nil.
	Backend Backend
	// NetworkManager reports whether NetworkManager runs (Linux);
	// NetworkManagerRunning when nil.
	NetworkManager func() bool
	// Now is the wall clock; time.Now when nil.
	Now func() time.Time
	// Logger; discarded when nil.
	Logger *slog.Logger
}

// cached is ConfigFile's content.
type cached struct {
	DeviceID string               `json:"device_id"`
	Serial   string               `json:"serial"`
	Config   protocol.AgentConfig `json:"config"`
	// CheckedAt is when the check-in answered Config; a cache older
	// than CheckInInterval is refreshed.
	CheckedAt time.Time `json:"checked_at"`
}

// CheckInInterval is how often the agent checks in when nothing else
// makes it (a renewal, a new enrollment): changes of the tenant's
// configuration (hub, directory, Fleet, a disk recovery key to rotate
// after it was read) reach the laptop within it.
const CheckInInterval = time.Hour

// Controller keeps the tunnel to the hub up.
type Controller struct {
	o   Options
	log *slog.Logger

	mu       sync.Mutex
	state    string
	msg      string
	spec     *Spec
	fails    int
	up       bool
	lastErr  string
	upSince  time.Time
	endpoint string
}

// New returns the controller.
func New(o Options) *Controller {
	if o.Interface == "" {
		o.Interface = DefaultInterface
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.NetworkManager == nil {
		o.NetworkManager = NetworkManagerRunning
	}
	if o.Revoked == nil {
		o.Revoked = func() bool { return false }
	}
	if o.Backend == nil {
		o.Backend = newBackend(o)
	}
	return &Controller{o: o, log: o.Logger, state: StateNotConfigured}
}

// Name is "tunnel".
func (c *Controller) Name() string { return "tunnel" }

// Reconcile brings the tunnel to what the enrollment, the certificate and
// the last check-in say.
func (c *Controller) Reconcile(ctx context.Context) (time.Time, error) {
	rec := c.o.Record()
	if rec == nil {
		c.down(StateNotConfigured, "not enrolled")
		return time.Time{}, nil
	}
	if c.o.Locked != nil && c.o.Locked() {
		c.down(StateLocked, "this laptop was locked remotely; the tunnel stays down")
		return time.Time{}, nil
	}
	if c.o.Revoked() {
		c.down(StateRevoked, "the device certificate is revoked; re-enroll this laptop with a YubiKey")
		return time.Time{}, nil
	}
	leaf, err := readLeaf(rec.Certificate)
	if err != nil {
		c.down(StateError, err.Error())
		return c.retry(), err
	}
	serial := leaf.SerialNumber.String()
	cache := c.readCache()
	cfg := rec.WireGuard
	if cache != nil && cache.DeviceID == rec.DeviceID {
		cfg = cache.Config.WireGuard
	}
	var checkErr error
	now := c.o.Now()
	if cache == nil || cache.DeviceID != rec.DeviceID || cache.Serial != serial || now.Sub(cache.CheckedAt) >= CheckInInterval || now.Before(cache.CheckedAt) {
		got, err := c.checkIn(ctx, rec)
		var ae *enrollment.APIError
		switch {
		case errors.As(err, &ae) && ae.Inactive():
			c.down(StateRevoked, "the tenant API says this device is no longer active: "+ae.Message)
			return time.Time{}, nil
		case err != nil:
			checkErr = fmt.Errorf("checking in: %w", err)
			c.log.Warn("tunnel check-in failed; using the configuration we have", "err", err)
		default:
			cfg = got.WireGuard
			c.writeCache(cached{DeviceID: rec.DeviceID, Serial: serial, Config: *got, CheckedAt: now})
			cache = &cached{CheckedAt: now}
		}
	}
	// The next check-in is due CheckInInterval after the last answer (or
	// from now, when that is past: a failed check-in waits as long).
	nextCheckIn := time.Time{}
	if cache != nil {
		if nextCheckIn = cache.CheckedAt.Add(CheckInInterval); !nextCheckIn.After(now) {
			nextCheckIn = now.Add(CheckInInterval)
		}
	}
	if cfg == nil {
		// No hub: a failed check-in is not retried sooner than the next
		// periodic one, so that an agent without a tunnel stays idle.
		c.down(StateNotConfigured, "the tenant runs no WireGuard hub")
		return nextCheckIn, checkErr
	}
	key, err := c.derive(rec, leaf)
	if err != nil {
		c.down(StateError, err.Error())
		return c.retry(), err
	}
	spec, err := SpecFrom(c.o.Interface, key.PrivateKey, cfg)
	if err == nil {
		err = c.o.Backend.Up(ctx, spec)
	}
	if err != nil {
		c.set(StateError, fmt.Sprintf("bringing the tunnel up: %v", err), false)
		return c.retry(), err
	}
	c.mu.Lock()
	wasUp := c.up
	c.spec, c.up, c.state, c.msg, c.fails, c.endpoint = &spec, true, StateUp, "hub "+cfg.Endpoint+", address "+cfg.Address, 0, cfg.Endpoint
	if !wasUp {
		c.upSince = c.o.Now()
	}
	c.mu.Unlock()
	if !wasUp {
		c.log.Info("tunnel up", "interface", c.o.Interface, "backend", c.o.Backend.Name(), "address", cfg.Address, "hub", cfg.Endpoint)
	}
	if checkErr != nil {
		return c.retry(), checkErr
	}
	return nextCheckIn, nil
}

// derive derives the WireGuard key and checks that the certificate binds it.
func (c *Controller) derive(rec *enrollment.Record, leaf *x509.Certificate) (wgkey.Key, error) {
	kb, err := os.ReadFile(rec.Key)
	if err != nil {
		return wgkey.Key{}, fmt.Errorf("reading the device key: %w", err)
	}
	dk, err := pemkey.ParseECDSA(kb)
	if err != nil {
		return wgkey.Key{}, fmt.Errorf("reading the device key: %w", err)
	}
	k, err := wgkey.Derive(dk, rec.Tenant, rec.DeviceID)
	if err != nil {
		return wgkey.Key{}, fmt.Errorf("deriving the wireguard key: %w", err)
	}
	uri, err := k.URI()
	if err != nil {
		return wgkey.Key{}, err
	}
	for _, u := range leaf.URIs {
		if u.String() == uri {
			return k, nil
		}
	}
	return wgkey.Key{}, errors.New("the device certificate does not bind the WireGuard key derived from the device key; re-enroll this laptop")
}

// readLeaf reads the device certificate.
func readLeaf(path string) (*x509.Certificate, error) {
	cb, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading the device certificate: %w", err)
	}
	b, _ := pem.Decode(cb)
	if b == nil {
		return nil, errors.New("reading the device certificate: no PEM block")
	}
	leaf, err := x509.ParseCertificate(b.Bytes)
	if err != nil {
		return nil, fmt.Errorf("reading the device certificate: %w", err)
	}
	return leaf, nil
}

// checkIn fetches the current AgentConfig over mutual TLS with the device
// certificate, trusting only the tenant root (enrollment.Record.Call).
func (c *Controller) checkIn(ctx context.Context, rec *enrollment.Record) (*protocol.AgentConfig, error) {
	var cfg protocol.AgentConfig
	if err := rec.Call(ctx, http.MethodGet, protocol.PathDeviceConfig, nil, &cfg); err != nil {
		return nil, err
	}
	if cfg.DeviceID != rec.DeviceID || cfg.Tenant != rec.Tenant {
		return nil, fmt.Errorf("the configuration is for device %s of %s, not this one", cfg.DeviceID, cfg.Tenant)
	}
	return &cfg, nil
}

// Config returns the configuration the last check-in returned for the
// enrolled device, nil when there is none.
func (c *Controller) Config() *protocol.AgentConfig {
	rec := c.o.Record()
	v := c.readCache()
	if rec == nil || v == nil || v.DeviceID != rec.DeviceID {
		return nil
	}
	return &v.Config
}

func (c *Controller) readCache() *cached {
	b, err := os.ReadFile(filepath.Join(c.o.StateDir, ConfigFile))
	if err != nil {
		return nil
	}
	var v cached
	if err := protocol.DecodeJSON(bytes.NewReader(b), 1<<20, &v); err != nil {
		return nil
	}
	return &v
}

func (c *Controller) writeCache(v cached) {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return
	}
	if err := atomicfile.WriteFile(filepath.Join(c.o.StateDir, ConfigFile), append(b, '\n'), 0o600); err != nil {
		c.log.Warn("saving the tunnel configuration", "err", err)
	}
}

// down takes the tunnel down and records why.
func (c *Controller) down(state, msg string) {
	c.mu.Lock()
	wasUp := c.up
	c.mu.Unlock()
	if wasUp {
		if err := c.o.Backend.Down(); err != nil {
			c.log.Warn("taking the tunnel down", "err", err)
		}
		c.log.Info("tunnel down", "interface", c.o.Interface, "why", msg)
	}
	c.set(state, msg, false)
}

func (c *Controller) set(state, msg string, up bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !up && c.up && state == StateError {
		// A failed update leaves a working tunnel as it was.
		c.lastErr = msg
		return
	}
	c.state, c.msg, c.up = state, msg, up
	if !up {
		c.spec = nil
	}
}

// retry returns when to try again after a failure, backing off.
func (c *Controller) retry() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.fails++
	return c.o.Now().Add(min(retryMin<<min(c.fails-1, 12), retryMax))
}

// State is the tunnel's state for the controller list.
func (c *Controller) State() (string, string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.state, c.msg
}

// Status is the tunnel's status, with the handshake and endpoint read from
// the backend now.
func (c *Controller) Status() status.Tunnel {
	c.mu.Lock()
	st := status.Tunnel{State: c.state, Interface: c.o.Interface, Backend: c.o.Backend.Name(), Message: c.msg}
	up := c.up
	if c.spec != nil {
		st.Address = c.spec.Address.String()
	}
	c.mu.Unlock()
	if up {
		if ps, ok, err := c.o.Backend.State(); err == nil && ok {
			st.LastHandshake, st.Endpoint = ps.LastHandshake, ps.Endpoint
		}
	}
	return st
}

// Stop takes the tunnel down when the agent stops.
func (c *Controller) Stop() {
	c.down(StateDown, "the agent stopped")
}
