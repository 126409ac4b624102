package hub

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"golang.zx2c4.com/wireguard/wgctrl/wgtypes"

	"github.com/kiwistack/endpoint/enroll/protocol"
	"github.com/kiwistack/endpoint/internal/atomicfile"
	"github.com/kiwistack/endpoint/server/store"
)

// DefaultResync is how often Run syncs without being poked: the upper bound
// on how long a change made by another process (a revocation from the CLI
// while the server runs) takes to reach the interface when no request
// arrives meanwhile.
const DefaultResync = 30 * time.Second

// KeyFile is the hub's private key in the server's state directory (0600).
const KeyFile = "hub.key"

// Client is the WireGuard interface as the hub uses it; *wgctrl.Client
// implements it.
type Client interface {
	Device(name string) (*wgtypes.Device, error)
	ConfigureDevice(name string, cfg wgtypes.Config) error
}

// Store is what the hub reads and allocates; *store.SQLite implements it.
type Store interface {
	Devices(ctx context.Context) ([]store.Device, error)
	TunnelAddress(ctx context.Context, id string, prefix netip.Prefix) (netip.Addr, error)
	RetiredIntermediates(ctx context.Context) ([]store.RetiredIntermediate, error)
}

// Options configure New.
type Options struct {
	// Interface is the WireGuard interface's name (required).
	Interface string
	// Prefix is the tunnel prefix, e.g. 100.96.0.0/16; the hub has its
	// first host, devices the following ones (required).
	Prefix netip.Prefix
	// Endpoint is the hub's UDP address as devices reach it, host:port
	// (required).
	Endpoint string
	// ListenPort, when not 0, is set on the interface.
	ListenPort int
	// PrivateKey is the hub's key (LoadOrCreateKey), set on the interface.
	PrivateKey wgtypes.Key
	// AllowedIPs are the prefixes devices route to the hub; Prefix when
	// empty.
	AllowedIPs []netip.Prefix
	// Client reaches the interface (required).
	Client Client
	// Store is the API's store (Serve fills it in).
	Store Store
	// Resync bounds the time between syncs (DefaultResync when 0).
	Resync time.Duration
	// Now is the clock; time.Now when nil.
	Now func() time.Time
	// Logger; discarded when nil.
	Logger *slog.Logger
}

// Hub keeps one interface's peers equal to the valid devices.
type Hub struct {
	o    Options
	log  *slog.Logger
	poke chan struct{}

	mu         sync.Mutex // serialises Sync
	nextExpiry time.Time
}

// New checks o and returns a hub; Run or Sync use it.
func New(o Options) (*Hub, error) {
	switch {
	case o.Interface == "":
		return nil, errors.New("creating hub: no interface name")
	case !o.Prefix.IsValid() || o.Prefix.Bits() > o.Prefix.Addr().BitLen()-2:
		return nil, fmt.Errorf("creating hub: prefix %s has no room for the hub and devices", o.Prefix)
	case o.Endpoint == "":
		return nil, errors.New("creating hub: no endpoint")
	case o.Client == nil || o.Store == nil:
		return nil, errors.New("creating hub: no wireguard client or store")
	}
	if _, _, err := net.SplitHostPort(o.Endpoint); err != nil {
		return nil, fmt.Errorf("creating hub: endpoint %q: %w", o.Endpoint, err)
	}
	o.Prefix = o.Prefix.Masked()
	if len(o.AllowedIPs) == 0 {
		o.AllowedIPs = []netip.Prefix{o.Prefix}
	}
	if o.Resync <= 0 {
		o.Resync = DefaultResync
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	return &Hub{o: o, log: o.Logger, poke: make(chan struct{}, 1)}, nil
}

// Address returns the hub's own tunnel address with the prefix length.
func (h *Hub) Address() netip.Prefix {
	return netip.PrefixFrom(h.o.Prefix.Addr().Next(), h.o.Prefix.Bits())
}

// Poke asks Run to sync soon; pokes coalesce and never block.
func (h *Hub) Poke() {
	select {
	case h.poke <- struct{}{}:
	default:
	}
}

// Config returns the tunnel configuration of device id, allocating its
// address on first use.
func (h *Hub) Config(ctx context.Context, id string) (*protocol.WireGuardConfig, error) {
	a, err := h.o.Store.TunnelAddress(ctx, id, h.o.Prefix)
	if err != nil {
		return nil, fmt.Errorf("tunnel configuration of %s: %w", id, err)
	}
	c := &protocol.WireGuardConfig{
		Endpoint: h.o.Endpoint, PublicKey: h.o.PrivateKey.PublicKey().String(),
		Address:    netip.PrefixFrom(a, a.BitLen()).String(),
		HubAddress: h.Address().Addr().String(),
	}
	for _, p := range h.o.AllowedIPs {
		c.AllowedIPs = append(c.AllowedIPs, p.String())
	}
	return c, nil
}

// Run syncs at once, then whenever poked, at the next certificate expiry
// and at least every Resync, until ctx ends. Errors are logged (a failing
// interface is retried at the next occasion).
func (h *Hub) Run(ctx context.Context) {
	for {
		if err := h.Sync(ctx); err != nil && ctx.Err() == nil {
			h.log.Error("syncing the wireguard hub", "interface", h.o.Interface, "err", err)
		}
		wait := h.o.Resync
		h.mu.Lock()
		if e := h.nextExpiry; !e.IsZero() {
			wait = min(wait, max(e.Sub(h.o.Now()), 0)+10*time.Millisecond)
		}
		h.mu.Unlock()
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-h.poke:
			t.Stop()
		case <-t.C:
		}
	}
}

// peer is one wanted peer.
type peer struct {
	device  string
	key     wgtypes.Key
	address netip.Addr
}

// Sync makes the interface's peers those of the valid devices: active, a
// WireGuard key, and a certificate that has not expired.
func (h *Hub) Sync(ctx context.Context) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	now := h.o.Now()
	ds, err := h.o.Store.Devices(ctx)
	if err != nil {
		return fmt.Errorf("syncing hub: %w", err)
	}
	ris, err := h.o.Store.RetiredIntermediates(ctx)
	if err != nil {
		return fmt.Errorf("syncing hub: %w", err)
	}
	retired := map[string]bool{}
	for _, r := range ris {
		retired[r.SHA256] = true
	}
	want := map[wgtypes.Key]peer{}
	var next time.Time
	for _, d := range ds {
		if d.Status != store.StatusActive || d.WireGuardPublicKey == "" {
			continue
		}
		// Only a certificate of the current intermediate keeps a peer: after
		// a rotation, a device is back once it holds a new one.
		var notAfter time.Time
		for _, c := range d.Certificates {
			if !retired[c.Issuer] && c.NotAfter.After(notAfter) {
				notAfter = c.NotAfter
			}
		}
		if !notAfter.After(now) {
			continue
		}
		k, err := wgtypes.ParseKey(d.WireGuardPublicKey)
		if err != nil {
			h.log.Warn("device with an unreadable wireguard key left out", "device", d.ID, "err", err)
			continue
		}
		a, err := h.o.Store.TunnelAddress(ctx, d.ID, h.o.Prefix)
		if err != nil {
			return fmt.Errorf("syncing hub: %w", err)
		}
		want[k] = peer{device: d.ID, key: k, address: a}
		if next.IsZero() || notAfter.Before(next) {
			next = notAfter
		}
	}
	dev, err := h.o.Client.Device(h.o.Interface)
	if err != nil {
		return fmt.Errorf("syncing hub: reading interface %s: %w", h.o.Interface, err)
	}
	cfg := wgtypes.Config{}
	if dev.PrivateKey != h.o.PrivateKey {
		cfg.PrivateKey = &h.o.PrivateKey
	}
	if h.o.ListenPort != 0 && dev.ListenPort != h.o.ListenPort {
		cfg.ListenPort = &h.o.ListenPort
	}
	have := map[wgtypes.Key]wgtypes.Peer{}
	for _, p := range dev.Peers {
		have[p.PublicKey] = p
		if _, ok := want[p.PublicKey]; !ok {
			cfg.Peers = append(cfg.Peers, wgtypes.PeerConfig{PublicKey: p.PublicKey, Remove: true})
			h.log.Info("hub peer removed", "interface", h.o.Interface, "public_key", p.PublicKey.String())
		}
	}
	for k, p := range want {
		ip := net.IPNet{IP: p.address.AsSlice(), Mask: net.CIDRMask(p.address.BitLen(), p.address.BitLen())}
		if cur, ok := have[k]; ok && len(cur.AllowedIPs) == 1 && cur.AllowedIPs[0].String() == ip.String() {
			continue
		}
		cfg.Peers = append(cfg.Peers, wgtypes.PeerConfig{PublicKey: k, ReplaceAllowedIPs: true, AllowedIPs: []net.IPNet{ip}})
		h.log.Info("hub peer added", "interface", h.o.Interface, "device", p.device, "address", p.address.String())
	}
	slices.SortFunc(cfg.Peers, func(a, b wgtypes.PeerConfig) int { return strings.Compare(a.PublicKey.String(), b.PublicKey.String()) })
	h.nextExpiry = next
	if cfg.PrivateKey == nil && cfg.ListenPort == nil && len(cfg.Peers) == 0 {
		return nil
	}
	if err := h.o.Client.ConfigureDevice(h.o.Interface, cfg); err != nil {
		return fmt.Errorf("syncing hub: configuring interface %s: %w", h.o.Interface, err)
	}
	return nil
}

// LoadOrCreateKey reads the hub's private key from path, or generates one
// there (0600) the first time.
func LoadOrCreateKey(path string, random io.Reader) (wgtypes.Key, error) {
	b, err := os.ReadFile(path)
	if err == nil {
		k, err := wgtypes.ParseKey(strings.TrimSpace(string(b)))
		if err != nil {
			return wgtypes.Key{}, fmt.Errorf("reading hub key %s: %w", path, err)
		}
		return k, nil
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return wgtypes.Key{}, fmt.Errorf("reading hub key: %w", err)
	}
	if random == nil {
		random = rand.Reader
	}
	var k wgtypes.Key
	if _, err := io.ReadFull(random, k[:]); err != nil {
		return wgtypes.Key{}, fmt.Errorf("generating hub key: %w", err)
	}
	// Clamp as wgtypes.GeneratePrivateKey does.
	k[0] &= 248
	k[31] &= 127
	k[31] |= 64
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return wgtypes.Key{}, fmt.Errorf("writing hub key: %w", err)
	}
	if err := atomicfile.WriteFile(path, []byte(k.String()+"\n"), 0o600); err != nil {
		return wgtypes.Key{}, fmt.Errorf("writing hub key: %w", err)
	}
	return k, nil
}
