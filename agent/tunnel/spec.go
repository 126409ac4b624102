package tunnel

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"time"

	"github.com/kiwistack/endpoint/enroll/protocol"
)

// DefaultInterface is the tunnel's interface name.
const DefaultInterface = "kiwistack0"

// Spec is one tunnel to the hub, as every backend takes it.
type Spec struct {
	// Interface is the interface (or profile) name.
	Interface string
	// PrivateKey is the laptop's derived WireGuard key, base64.
	PrivateKey string
	// Address is the laptop's tunnel address with its prefix length.
	Address netip.Prefix
	// Peer is the hub.
	Peer Peer
}

// Peer is the hub as a WireGuard peer.
type Peer struct {
	// PublicKey is the hub's key, base64.
	PublicKey string
	// Endpoint is host:port.
	Endpoint string
	// AllowedIPs are routed through the tunnel.
	AllowedIPs []netip.Prefix
	// Keepalive is the persistent keepalive (25 s), so that the hub can
	// reach a laptop behind NAT.
	Keepalive time.Duration
}

// PersistentKeepalive is the keepalive every spec carries.
const PersistentKeepalive = 25 * time.Second

// SpecFrom builds the spec of cfg for the interface name and private key.
func SpecFrom(name, privateKey string, cfg *protocol.WireGuardConfig) (Spec, error) {
	if cfg == nil {
		return Spec{}, errors.New("no tunnel configuration")
	}
	addr, err := netip.ParsePrefix(cfg.Address)
	if err != nil {
		return Spec{}, fmt.Errorf("tunnel address %q: %w", cfg.Address, err)
	}
	s := Spec{Interface: name, PrivateKey: privateKey, Address: addr,
		Peer: Peer{PublicKey: cfg.PublicKey, Endpoint: cfg.Endpoint, Keepalive: PersistentKeepalive}}
	if err := protocol.CheckWireGuardKey(cfg.PublicKey); err != nil {
		return Spec{}, fmt.Errorf("hub key: %w", err)
	}
	for _, a := range cfg.AllowedIPs {
		p, err := netip.ParsePrefix(a)
		if err != nil {
			return Spec{}, fmt.Errorf("allowed ip %q: %w", a, err)
		}
		s.Peer.AllowedIPs = append(s.Peer.AllowedIPs, p.Masked())
	}
	if len(s.Peer.AllowedIPs) == 0 {
		return Spec{}, errors.New("no allowed ips")
	}
	return s, nil
}

// PeerState is what a running backend reports about the hub.
type PeerState struct {
	// LastHandshake is the last completed handshake (zero: none yet).
	LastHandshake time.Time
	// Endpoint is the hub's current endpoint.
	Endpoint string
}

// Backend brings one tunnel up and down. Up is idempotent: called with the
// same spec again it changes nothing (sessions survive).
type Backend interface {
	// Name names the backend for status ("kernel", "networkmanager",
	// "userspace", "profile").
	Name() string
	Up(ctx context.Context, s Spec) error
	// Down removes the tunnel; a tunnel that is not up is fine.
	Down() error
	// State reports the peer; ok is false when the backend cannot tell
	// (a profile the OS runs).
	State() (st PeerState, ok bool, err error)
}
