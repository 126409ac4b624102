package tunnel

import (
	"encoding/base64"
	"fmt"

	"github.com/godbus/dbus/v5"
)

// NMSettings returns the NetworkManager connection settings of s (a
// "wireguard" connection, as nmcli would create it): the interface with its
// private key, the hub as the only peer, the tunnel address as a manual
// IPv4 or IPv6 address, never the default route, and not kept across
// reboots' autoconnect by NetworkManager on its own (the agent brings it up).
func NMSettings(s Spec, uuid string) (map[string]map[string]dbus.Variant, error) {
	if _, err := base64.StdEncoding.DecodeString(s.PrivateKey); err != nil {
		return nil, fmt.Errorf("networkmanager settings: private key: %w", err)
	}
	var allowed []string
	for _, p := range s.Peer.AllowedIPs {
		allowed = append(allowed, p.String())
	}
	peer := map[string]dbus.Variant{
		"public-key":           dbus.MakeVariant(s.Peer.PublicKey),
		"endpoint":             dbus.MakeVariant(s.Peer.Endpoint),
		"allowed-ips":          dbus.MakeVariant(allowed),
		"persistent-keepalive": dbus.MakeVariant(uint32(s.Peer.Keepalive.Seconds())),
	}
	addr := map[string]dbus.Variant{
		"address": dbus.MakeVariant(s.Address.Addr().String()),
		"prefix":  dbus.MakeVariant(uint32(s.Address.Bits())),
	}
	ipOn := map[string]dbus.Variant{
		"method":        dbus.MakeVariant("manual"),
		"address-data":  dbus.MakeVariant([]map[string]dbus.Variant{addr}),
		"never-default": dbus.MakeVariant(true),
	}
	ipOff := map[string]dbus.Variant{"method": dbus.MakeVariant("disabled")}
	out := map[string]map[string]dbus.Variant{
		"connection": {
			"id":             dbus.MakeVariant("KiwiStack " + s.Interface),
			"uuid":           dbus.MakeVariant(uuid),
			"type":           dbus.MakeVariant("wireguard"),
			"interface-name": dbus.MakeVariant(s.Interface),
			"autoconnect":    dbus.MakeVariant(false),
		},
		"wireguard": {
			"private-key":       dbus.MakeVariant(s.PrivateKey),
			"private-key-flags": dbus.MakeVariant(uint32(0)),
			"peers":             dbus.MakeVariant([]map[string]dbus.Variant{peer}),
		},
	}
	if s.Address.Addr().Is4() {
		out["ipv4"], out["ipv6"] = ipOn, ipOff
	} else {
		out["ipv6"], out["ipv4"] = ipOn, ipOff
	}
	return out, nil
}

// nmUUID is the connection's stable UUID, derived from the interface name
// so that a restarted agent finds its own connection.
func nmUUID(name string) string {
	b := make([]byte, 16)
	copy(b, "kiwistack-"+name)
	b[6] = (b[6] & 0x0f) | 0x40
	b[8] = (b[8] & 0x3f) | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}
