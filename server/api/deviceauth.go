package api

import (
	"crypto/x509"
	"errors"
	"net/http"
	"time"

	"github.com/kiwistack/endpoint/enroll/protocol"
	"github.com/kiwistack/endpoint/server/ca"
	"github.com/kiwistack/endpoint/server/store"
)

// deviceAuth says which devices a device endpoint admits beyond active
// ones with a certificate of the current intermediate.
type deviceAuth struct {
	// inactive admits locked, wiped and revoked devices: their
	// certificates were revoked at step-ca (never renewed), and the
	// device-command endpoints are the only ones they still open until
	// they expire.
	inactive bool
	// retired admits certificates of a retired intermediate, expired up
	// to the renewal grace (POST /v1/device/reissue).
	retired bool
}

// authedDevice is a device a request authenticated as.
type authedDevice struct {
	id   string
	dev  store.Device
	leaf *x509.Certificate
	// issuer is the SHA-256 (hex) of the current intermediate that issued
	// leaf; "" for a certificate of a retired one.
	issuer string
}

// authDevice authenticates r's TLS client certificate as a device of this
// tenant, the one check of every device endpoint: a device certificate
// (client authentication, not an app certificate) chained to the tenant
// intermediate, valid at now, naming a device on record that is not
// replaced, active unless a.inactive, whose WireGuard key it binds. A
// certificate of a retired intermediate is refused with
// intermediate_retired, unless a.retired.
func (s *Server) authDevice(r *http.Request, now time.Time, a deviceAuth) (*authedDevice, *apiError) {
	if r.TLS == nil || len(r.TLS.PeerCertificates) == 0 {
		return nil, reject(http.StatusUnauthorized, protocol.ReasonChain,
			"present the device certificate as the TLS client certificate", errors.New("no client certificate"))
	}
	ad := &authedDevice{leaf: r.TLS.PeerCertificates[0]}
	inter := x509.NewCertPool()
	for _, c := range r.TLS.PeerCertificates[1:] {
		inter.AddCert(c)
	}
	chains, err := ad.leaf.Verify(x509.VerifyOptions{Roots: s.anchors(), Intermediates: inter, CurrentTime: now,
		KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}})
	switch {
	case err == nil:
		ad.issuer = ca.Fingerprint(chains[0][len(chains[0])-1])
	case a.retired && s.retiredChain(r.Context(), ad.leaf, inter, now, ca.DefaultRenewalGrace):
	case !a.retired && s.retiredChain(r.Context(), ad.leaf, inter, now, 0):
		return nil, retiredRejection()
	default:
		return nil, reject(http.StatusUnauthorized, protocol.ReasonChain,
			"the client certificate is not a valid device certificate of this tenant; re-enroll the device", err)
	}
	if protocol.IsAppCertificate(ad.leaf) {
		return nil, reject(http.StatusUnauthorized, protocol.ReasonChain,
			"an app certificate is not a device identity; present the device certificate", errors.New("app certificate presented"))
	}
	if ad.id = deviceID(ad.leaf, s.cfg.Tenant); ad.id == "" {
		return nil, reject(http.StatusUnauthorized, protocol.ReasonChain,
			"the client certificate names no device of this tenant", errors.New("no device uri"))
	}
	ad.dev, err = s.cfg.Store.DeviceByID(r.Context(), ad.id)
	switch {
	case errors.Is(err, store.ErrNotFound) || (err == nil && ad.dev.Status == store.StatusReplaced):
		return ad, reject(http.StatusForbidden, ReasonDeviceInactive, "this device is not enrolled (or was enrolled again); re-enroll it", err)
	case err != nil:
		return ad, reject(http.StatusInternalServerError, ReasonInternal, "the device could not be looked up; try again later", err)
	case !a.inactive && ad.dev.Status != store.StatusActive:
		return ad, reject(http.StatusForbidden, ReasonDeviceInactive,
			"this device is "+ad.dev.Status+"; re-enroll it with an administrator", errors.New("device "+ad.dev.Status))
	case !bindsKey(ad.leaf, ad.dev.WireGuardPublicKey):
		return ad, reject(http.StatusForbidden, ReasonCSRWireGuard,
			"the certificate's WireGuard key is not the device's; re-enroll the device", errors.New("wireguard key differs from the record"))
	}
	return ad, nil
}
