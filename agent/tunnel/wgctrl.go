//go:build linux

package tunnel

import (
	"context"
	"fmt"
	"net"
	"os/exec"
	"strings"
	"time"

	"golang.zx2c4.com/wireguard/wgctrl"
	"golang.zx2c4.com/wireguard/wgctrl/wgtypes"
)

// configure sets spec on the WireGuard interface through wgctrl (kernel
// netlink or the userspace UAPI socket), replacing any other peer, and
// changes nothing when it is already so.
func configure(s Spec) error {
	c, err := wgctrl.New()
	if err != nil {
		return fmt.Errorf("opening wgctrl: %w", err)
	}
	defer c.Close()
	priv, err := wgtypes.ParseKey(s.PrivateKey)
	if err != nil {
		return fmt.Errorf("tunnel key: %w", err)
	}
	pub, err := wgtypes.ParseKey(s.Peer.PublicKey)
	if err != nil {
		return fmt.Errorf("hub key: %w", err)
	}
	ep, err := net.ResolveUDPAddr("udp", s.Peer.Endpoint)
	if err != nil {
		return fmt.Errorf("hub endpoint %q: %w", s.Peer.Endpoint, err)
	}
	var allowed []net.IPNet
	for _, p := range s.Peer.AllowedIPs {
		allowed = append(allowed, net.IPNet{IP: p.Addr().AsSlice(), Mask: net.CIDRMask(p.Bits(), p.Addr().BitLen())})
	}
	dev, err := c.Device(s.Interface)
	if err != nil {
		return fmt.Errorf("reading %s: %w", s.Interface, err)
	}
	if same(dev, priv, pub, ep, allowed) {
		return nil
	}
	ka := s.Peer.Keepalive
	cfg := wgtypes.Config{PrivateKey: &priv, ReplacePeers: true, Peers: []wgtypes.PeerConfig{{
		PublicKey: pub, Endpoint: ep, ReplaceAllowedIPs: true, AllowedIPs: allowed, PersistentKeepaliveInterval: &ka,
	}}}
	if err := c.ConfigureDevice(s.Interface, cfg); err != nil {
		return fmt.Errorf("configuring %s: %w", s.Interface, err)
	}
	return nil
}

// same reports whether dev already has exactly that key and peer.
func same(dev *wgtypes.Device, priv, pub wgtypes.Key, ep *net.UDPAddr, allowed []net.IPNet) bool {
	if dev.PrivateKey != priv || len(dev.Peers) != 1 {
		return false
	}
	p := dev.Peers[0]
	if p.PublicKey != pub || p.Endpoint == nil || p.Endpoint.String() != ep.String() || len(p.AllowedIPs) != len(allowed) {
		return false
	}
	for i := range allowed {
		if p.AllowedIPs[i].String() != allowed[i].String() {
			return false
		}
	}
	return true
}

// peerState reads the hub peer of the interface through wgctrl.
func peerState(name string) (PeerState, bool, error) {
	c, err := wgctrl.New()
	if err != nil {
		return PeerState{}, false, err
	}
	defer c.Close()
	dev, err := c.Device(name)
	if err != nil {
		return PeerState{}, false, err
	}
	if len(dev.Peers) == 0 {
		return PeerState{}, true, nil
	}
	p := dev.Peers[0]
	st := PeerState{LastHandshake: p.LastHandshakeTime}
	if p.Endpoint != nil {
		st.Endpoint = p.Endpoint.String()
	}
	return st, true, nil
}

// addressing puts the address on the interface, brings it up and routes
// the allowed IPs through it, with ip(8).
func addressing(s Spec) error {
	cmds := [][]string{{"addr", "replace", s.Address.String(), "dev", s.Interface}, {"link", "set", s.Interface, "up"}}
	for _, p := range s.Peer.AllowedIPs {
		cmds = append(cmds, []string{"route", "replace", p.String(), "dev", s.Interface})
	}
	for _, args := range cmds {
		if err := ip(args...); err != nil {
			return err
		}
	}
	return nil
}

// ip runs ip(8).
func ip(args ...string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, "ip", args...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("ip %s: %w: %s", strings.Join(args, " "), err, strings.TrimSpace(string(out)))
	}
	return nil
}
