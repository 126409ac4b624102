package tunnel

import (
	"bytes"
	"crypto/sha256"
	"fmt"
	"strings"

	"howett.net/plist"
)

// WGQuick renders s as a wg-quick configuration, the format WireGuard for
// Windows imports as a tunnel file (NAME.conf) and WireGuard.app embeds in
// its profiles. It carries the private key: write it 0600.
func WGQuick(s Spec) []byte {
	var b bytes.Buffer
	fmt.Fprintf(&b, "[Interface]\nPrivateKey = %s\nAddress = %s\n\n", s.PrivateKey, s.Address)
	var allowed []string
	for _, p := range s.Peer.AllowedIPs {
		allowed = append(allowed, p.String())
	}
	fmt.Fprintf(&b, "[Peer]\nPublicKey = %s\nAllowedIPs = %s\nEndpoint = %s\n", s.Peer.PublicKey, strings.Join(allowed, ", "), s.Peer.Endpoint)
	if s.Peer.Keepalive > 0 {
		fmt.Fprintf(&b, "PersistentKeepalive = %d\n", int(s.Peer.Keepalive.Seconds()))
	}
	return b.Bytes()
}

// mobileconfig is a configuration profile with one VPN payload.
type mobileconfig struct {
	PayloadContent     []vpnPayload
	PayloadDisplayName string
	PayloadIdentifier  string
	PayloadType        string
	PayloadUUID        string
	PayloadVersion     int
}

type vpnPayload struct {
	PayloadDisplayName string
	PayloadIdentifier  string
	PayloadType        string
	PayloadUUID        string
	PayloadVersion     int
	UserDefinedName    string
	VPNType            string
	VPNSubType         string
	VendorConfig       map[string]string
	VPN                map[string]string
}

// MobileconfigIdentifier prefixes the profile's identifiers.
const MobileconfigIdentifier = "com.kiwistack.tunnel"

// Mobileconfig renders s as a macOS configuration profile for WireGuard.app
// (a com.apple.vpn.managed payload of subtype com.wireguard.macos whose
// VendorConfig carries the wg-quick configuration). Its UUIDs derive from
// the interface name, so that installing a new version replaces the old.
func Mobileconfig(s Spec) ([]byte, error) {
	id := MobileconfigIdentifier + "." + s.Interface
	p := mobileconfig{
		PayloadDisplayName: "KiwiStack tunnel", PayloadIdentifier: id, PayloadType: "Configuration",
		PayloadUUID: profileUUID("profile:" + s.Interface), PayloadVersion: 1,
		PayloadContent: []vpnPayload{{
			PayloadDisplayName: "KiwiStack tunnel", PayloadIdentifier: id + ".vpn", PayloadType: "com.apple.vpn.managed",
			PayloadUUID: profileUUID("vpn:" + s.Interface), PayloadVersion: 1,
			UserDefinedName: "KiwiStack " + s.Interface, VPNType: "VPN", VPNSubType: "com.wireguard.macos",
			VendorConfig: map[string]string{"WgQuickConfig": string(WGQuick(s))},
			VPN:          map[string]string{"RemoteAddress": s.Peer.Endpoint, "AuthenticationMethod": "Password"},
		}},
	}
	out, err := plist.MarshalIndent(p, plist.XMLFormat, "\t")
	if err != nil {
		return nil, fmt.Errorf("rendering the tunnel profile: %w", err)
	}
	return out, nil
}

// profileUUID is a stable, name-based UUID (version 5 layout over SHA-256).
func profileUUID(name string) string {
	sum := sha256.Sum256([]byte("kiwistack tunnel " + name))
	b := sum[:16]
	b[6] = (b[6] & 0x0f) | 0x50
	b[8] = (b[8] & 0x3f) | 0x80
	return strings.ToUpper(fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16]))
}
