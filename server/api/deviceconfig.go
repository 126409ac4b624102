package api

import (
	"context"
	"crypto/x509"
	"encoding/hex"
	"net/http"
	"strings"
	"time"

	"github.com/kiwistack/endpoint/enroll/protocol"
	"github.com/kiwistack/endpoint/server/store"
)

// ReasonDeviceInactive answers a check-in of a device that is revoked,
// locked, wiped or replaced.
const ReasonDeviceInactive = "device_inactive"

// Tunnel is the tenant's WireGuard hub as the API uses it; *hub.Hub
// implements it.
type Tunnel interface {
	// Config returns device id's tunnel configuration, allocating its
	// address on first use.
	Config(ctx context.Context, id string) (*protocol.WireGuardConfig, error)
	// Poke asks the hub to sync with the store soon, without blocking.
	Poke()
}

// deviceLifetime is the lifetime of new device certificates.
func (s *Server) deviceLifetime() time.Duration {
	if s.cfg.DeviceLifetime > 0 {
		return s.cfg.DeviceLifetime
	}
	return DeviceLifetime
}

// tunnelConfig returns device id's tunnel configuration, nil without a hub;
// a failure is logged and leaves the tunnel out (the agent gets it at its
// next check-in), and the hub is poked to add the new peer.
func (s *Server) tunnelConfig(ctx context.Context, id string) *protocol.WireGuardConfig {
	if s.cfg.Tunnel == nil {
		return nil
	}
	defer s.cfg.Tunnel.Poke()
	c, err := s.cfg.Tunnel.Config(ctx, id)
	if err != nil {
		s.log.Error("no tunnel configuration for the device", "device", id, "err", err)
		return nil
	}
	return c
}

// handleDeviceConfig is the device check-in, GET /v1/device/config: the
// TLS client certificate must be a device certificate of this tenant,
// verified against the tenant intermediate, of an active device whose
// WireGuard key it binds. A renewed certificate is recorded on the way, so
// that the hub keeps the peer until the new NotAfter. It answers the
// current AgentConfig.
func (s *Server) handleDeviceConfig(w http.ResponseWriter, r *http.Request) {
	now := s.cfg.Now()
	ad, e := s.authDevice(r, now, deviceAuth{})
	if e != nil {
		s.fail(w, r, e)
		return
	}
	id, d, leaf := ad.id, ad.dev, ad.leaf
	serial := hex.EncodeToString(leaf.SerialNumber.Bytes())
	known := false
	for _, c := range d.Certificates {
		known = known || c.Serial == serial
	}
	if !known {
		if err := s.cfg.Store.AddDeviceCertificate(r.Context(), id, store.DeviceCertificate{Serial: serial, NotAfter: leaf.NotAfter, IssuedAt: now,
			Issuer: ad.issuer}); err != nil {
			s.fail(w, r, reject(http.StatusInternalServerError, ReasonInternal, "the check-in could not be recorded; try again later", err))
			return
		}
	}
	writeJSON(w, http.StatusOK, s.agentConfig(r.Context(), id, s.cfg.RootFingerprint))
}

// agentConfig is the tenant's configuration for the agent of device id,
// as enrollment, claim and check-in deliver it; rootFP is the SHA-256 of
// the tenant root's DER, hex.
func (s *Server) agentConfig(ctx context.Context, id, rootFP string) protocol.AgentConfig {
	return protocol.AgentConfig{Version: 1, Tenant: s.cfg.Tenant, DeviceID: id, CAURL: s.cfg.CAURL,
		RootFingerprint: rootFP, APIURL: s.cfg.APIURL, WireGuard: s.tunnelConfig(ctx, id),
		CommandKey: s.commandKeyText(), Fleet: s.cfg.Fleet, Directory: s.cfg.Directory,
		Disk: s.diskConfig(ctx, id)}
}

// deviceID returns the device id a device certificate of tenant names in
// its URI SAN, "" if none or if c is an app certificate
// (protocol.IsAppCertificate), which is never a device identity.
func deviceID(c *x509.Certificate, tenant string) string {
	if protocol.IsAppCertificate(c) {
		return ""
	}
	prefix := protocol.DeviceURI(tenant, "").String()
	for _, u := range c.URIs {
		if rest, ok := strings.CutPrefix(u.String(), prefix); ok && rest != "" {
			return rest
		}
	}
	return ""
}

// bindsKey reports whether c carries the URI SAN of the WireGuard public
// key wg (wg form).
func bindsKey(c *x509.Certificate, wg string) bool {
	want, err := protocol.WireGuardURI(wg)
	if err != nil {
		return false
	}
	for _, u := range c.URIs {
		if u.String() == want {
			return true
		}
	}
	return false
}
