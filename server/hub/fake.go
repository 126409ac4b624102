package hub

import (
	"fmt"
	"net"
	"os"
	"sync"

	"golang.zx2c4.com/wireguard/wgctrl/wgtypes"
)

// FakeClient is an in-memory WireGuard interface for tests: it applies
// ConfigureDevice as wgctrl documents it and counts the calls.
type FakeClient struct {
	mu         sync.Mutex
	devices    map[string]*wgtypes.Device
	Configures int
}

// NewFakeClient returns a fake with empty interfaces of those names.
func NewFakeClient(names ...string) *FakeClient {
	f := &FakeClient{devices: map[string]*wgtypes.Device{}}
	for _, n := range names {
		f.devices[n] = &wgtypes.Device{Name: n, Type: wgtypes.Userspace}
	}
	return f
}

// Device implements Client.
func (f *FakeClient) Device(name string) (*wgtypes.Device, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	d, ok := f.devices[name]
	if !ok {
		return nil, fmt.Errorf("device %s: %w", name, os.ErrNotExist)
	}
	c := *d
	c.Peers = append([]wgtypes.Peer(nil), d.Peers...)
	return &c, nil
}

// ConfigureDevice implements Client.
func (f *FakeClient) ConfigureDevice(name string, cfg wgtypes.Config) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	d, ok := f.devices[name]
	if !ok {
		return fmt.Errorf("device %s: %w", name, os.ErrNotExist)
	}
	f.Configures++
	if cfg.PrivateKey != nil {
		d.PrivateKey, d.PublicKey = *cfg.PrivateKey, cfg.PrivateKey.PublicKey()
	}
	if cfg.ListenPort != nil {
		d.ListenPort = *cfg.ListenPort
	}
	if cfg.ReplacePeers {
		d.Peers = nil
	}
	for _, pc := range cfg.Peers {
		i := -1
		for j, p := range d.Peers {
			if p.PublicKey == pc.PublicKey {
				i = j
			}
		}
		if pc.Remove {
			if i >= 0 {
				d.Peers = append(d.Peers[:i], d.Peers[i+1:]...)
			}
			continue
		}
		if i < 0 {
			d.Peers = append(d.Peers, wgtypes.Peer{PublicKey: pc.PublicKey})
			i = len(d.Peers) - 1
		}
		if pc.ReplaceAllowedIPs {
			d.Peers[i].AllowedIPs = nil
		}
		d.Peers[i].AllowedIPs = append(d.Peers[i].AllowedIPs, append([]net.IPNet(nil), pc.AllowedIPs...)...)
	}
	return nil
}
