// Package tunnel is the agent's tunnel controller: it derives the laptop's
// WireGuard key from its device key (agent/wgkey), checks that the current
// device certificate binds exactly that key (its URI SAN), checks in with
// the tenant API over mutual TLS for the current tunnel configuration (GET
// /v1/device/config: hub endpoint and key, the laptop's address, allowed
// IPs) and keeps the tunnel to the hub up through one backend per OS:
//
//   - Linux: kernel WireGuard configured through wgctrl when the module is
//     there, a NetworkManager connection over D-Bus when NetworkManager runs
//     (its settings are built by NMSettings), otherwise wireguard-go
//     embedded in the agent (a TUN device and its UAPI socket).
//   - macOS: a WireGuard.app configuration profile (Mobileconfig).
//   - Windows: a WireGuard for Windows tunnel file (WGQuick).
//
// When the certificate is revoked, or the API says the device is no longer
// active, the tunnel goes down and stays down. It never stores the
// WireGuard private key (it is derived on each start) and never logs it; it
// does not renew certificates or enroll.
package tunnel
