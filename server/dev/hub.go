package dev

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"golang.zx2c4.com/wireguard/wgctrl"

	"github.com/kiwistack/endpoint/internal/atomicfile"
	"github.com/kiwistack/endpoint/server/hub"
)

// URLFile holds the API URL of the running dev tenant, written once it
// serves and removed when it stops, so that the CLI (devices revoke) can
// reach its step-ca while it holds the CA's database.
const URLFile = "api.url"

// DefaultHubPrefix is the tunnel prefix when HubOptions.Prefix is not set.
const DefaultHubPrefix = "100.96.0.0/16"

// HubOptions configure the dev tenant's WireGuard hub.
type HubOptions struct {
	// Listen is the hub's UDP address, host:port; the host is what
	// devices are told unless Endpoint is set.
	Listen string
	// Endpoint is the address devices reach the hub at; Listen when empty.
	Endpoint string
	// Interface is the name of the in-process interface (at most 15 bytes;
	// unique on the machine, since /var/run/wireguard is shared).
	Interface string
	// Prefix is the tunnel prefix (DefaultHubPrefix when invalid).
	Prefix netip.Prefix
	// Resync bounds the time between syncs (hub.DefaultResync when 0).
	Resync time.Duration
}

// startHub loads or creates the hub's key in dir, starts the in-process
// device and returns the hub's options for serve.Site.
func startHub(dir string, o HubOptions, log *slog.Logger) (*hub.Options, func(), error) {
	if o.Interface == "" || o.Listen == "" {
		return nil, nil, errors.New("starting the hub: --hub-listen and --hub-interface are required")
	}
	host, portStr, err := net.SplitHostPort(o.Listen)
	if err != nil {
		return nil, nil, fmt.Errorf("starting the hub: --hub-listen %q: %w", o.Listen, err)
	}
	port, err := strconv.Atoi(portStr)
	if err != nil || port <= 0 || port > 65535 {
		return nil, nil, fmt.Errorf("starting the hub: --hub-listen %q: want a port", o.Listen)
	}
	if o.Endpoint == "" {
		if ip, err := netip.ParseAddr(host); host == "" || (err == nil && ip.IsUnspecified()) {
			return nil, nil, errors.New("starting the hub: --hub-listen has no specific host; give --hub-endpoint")
		}
		o.Endpoint = o.Listen
	}
	if !o.Prefix.IsValid() {
		o.Prefix = netip.MustParsePrefix(DefaultHubPrefix)
	}
	key, err := hub.LoadOrCreateKey(filepath.Join(dir, hub.KeyFile), nil)
	if err != nil {
		return nil, nil, fmt.Errorf("starting the hub: %w", err)
	}
	addr := netip.PrefixFrom(o.Prefix.Masked().Addr().Next(), o.Prefix.Bits())
	dev, err := hub.StartDevice(o.Interface, addr, log)
	if err != nil {
		return nil, nil, fmt.Errorf("starting the hub (the in-process WireGuard device needs Linux, root and /dev/net/tun): %w", err)
	}
	wg, err := wgctrl.New()
	if err != nil {
		_ = dev.Close()
		return nil, nil, fmt.Errorf("starting the hub: %w", err)
	}
	stop := func() {
		_ = wg.Close()
		_ = dev.Close()
	}
	log.Info("wireguard hub started", "interface", o.Interface, "listen", o.Listen, "address", addr.String(),
		"public_key", key.PublicKey().String())
	return &hub.Options{
		Interface: o.Interface, Prefix: o.Prefix, Endpoint: o.Endpoint, ListenPort: port, PrivateKey: key,
		Client: wg, Resync: o.Resync,
	}, stop, nil
}

// writeURL records the running tenant's API URL in dir.
func writeURL(dir, url string) error {
	return atomicfile.WriteFile(filepath.Join(dir, URLFile), []byte(url+"\n"), 0o600)
}

// RunningURL returns the API URL of the dev tenant running on dir, "" when
// none has recorded one.
func RunningURL(dir string) string {
	b, err := os.ReadFile(filepath.Join(dir, URLFile))
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(b))
}
