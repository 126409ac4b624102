package install

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"io"
	"net/url"

	"github.com/kiwistack/endpoint/agent/wgkey"
	"github.com/kiwistack/endpoint/enroll/protocol"
)

// Identity is a new device's identity before the tenant has certified it:
// the device key, which never leaves the laptop, and what the request to
// the API carries about it.
type Identity struct {
	// Key is the device's private key (P-256).
	Key *ecdsa.PrivateKey
	// KeySHA256 is protocol.DeviceKeyHash of the public key.
	KeySHA256 string
	// DeviceID is protocol.DeviceID(KeySHA256).
	DeviceID string
	// WireGuard is the WireGuard key derived from Key, tenant and DeviceID.
	WireGuard wgkey.Key
	// CSR is the PEM certificate request signed by Key, whose names are
	// the URIs the certificate will carry: the device's
	// (protocol.DeviceURI) and its WireGuard key's (protocol.WireGuardURI).
	CSR string
}

// NewIdentity generates a device key from r and everything derived from it
// for tenant.
func NewIdentity(r io.Reader, tenant string) (*Identity, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), r)
	if err != nil {
		return nil, fmt.Errorf("generating the device key: %w", err)
	}
	spki, err := x509.MarshalPKIXPublicKey(&key.PublicKey)
	if err != nil {
		return nil, fmt.Errorf("encoding the device key: %w", err)
	}
	id := &Identity{Key: key, KeySHA256: protocol.DeviceKeyHash(spki)}
	id.DeviceID = protocol.DeviceID(id.KeySHA256)
	if id.WireGuard, err = wgkey.Derive(key, tenant, id.DeviceID); err != nil {
		return nil, fmt.Errorf("deriving the WireGuard key: %w", err)
	}
	uri, err := protocol.WireGuardURI(id.WireGuard.PublicKey)
	if err != nil {
		return nil, err
	}
	u, err := url.Parse(uri)
	if err != nil {
		return nil, fmt.Errorf("the WireGuard key URI %q: %w", uri, err)
	}
	der, err := x509.CreateCertificateRequest(r, &x509.CertificateRequest{URIs: []*url.URL{protocol.DeviceURI(tenant, id.DeviceID), u}}, key)
	if err != nil {
		return nil, fmt.Errorf("making the device CSR: %w", err)
	}
	id.CSR = string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: der}))
	return id, nil
}
