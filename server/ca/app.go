package ca

import (
	"context"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/smallstep/certificates/authority/provisioner"
	"go.step.sm/crypto/jose"

	"github.com/kiwistack/endpoint/enroll/protocol"
)

// App certificates (docs/app-certificate.md).
const (
	// AppProvisionerName is the JWK provisioner of app certificates. It
	// shares the device provisioner's key (whoever can mint device
	// certificates can mint these) under its own name, so that its claims
	// differ: renewal disabled, at most MaxAppLifetime.
	AppProvisionerName = "kiwistack-apps"
	// MaxAppLifetime bounds an app certificate.
	MaxAppLifetime = protocol.MaxAppCertificateLifetime
)

// appTemplate makes CN=<user>@<device>, OU=protocol.AppCertificateOU,
// O=<tenant> with the app URI (protocol.AppURI) as the only SAN, for TLS
// client authentication. Like device certificates it carries clientAuth;
// unlike them it has an OU and no device URI, which is how the API and the
// hub tell it apart, and its provisioner never renews it.
const appTemplate = `{
	"subject": {
		"commonName": {{ toJson .Subject.CommonName }},
		"organizationalUnit": {{ toJson .ou }},
		"organization": {{ toJson .tenant }}
	},
	"sans": {{ toJson .SANs }},
	"keyUsage": ["digitalSignature"],
	"extKeyUsage": ["clientAuth"]
}`

// AppProvisioner returns the step-ca provisioner that issues app
// certificates with key (the device provisioner's key) as its public key:
// the embedded authority uses it, and an external step-ca is configured
// with the same JSON (serve provisioners prints it). Renewal is disabled:
// an app certificate is replaced by asking the API, which checks the
// device first.
func AppProvisioner(key *jose.JSONWebKey, tenant string) (*provisioner.JWK, error) {
	return newAppProvisioner(key, tenant, DefaultMinLifetime)
}

func newAppProvisioner(key *jose.JSONWebKey, tenant string, minLife time.Duration) (*provisioner.JWK, error) {
	if key == nil {
		return nil, errors.New("app provisioner: no key")
	}
	pub := key.Public()
	data, err := json.Marshal(map[string]string{"tenant": tenant, "ou": protocol.AppCertificateOU})
	if err != nil {
		return nil, err
	}
	disableRenewal := true
	return &provisioner.JWK{
		Type: "JWK",
		Name: AppProvisionerName,
		Key:  &pub,
		Claims: &provisioner.Claims{
			MinTLSDur:      &provisioner.Duration{Duration: minLife},
			MaxTLSDur:      &provisioner.Duration{Duration: MaxAppLifetime},
			DefaultTLSDur:  &provisioner.Duration{Duration: MaxAppLifetime},
			DisableRenewal: &disableRenewal,
		},
		Options: &provisioner.Options{X509: &provisioner.X509Options{
			Template:     appTemplate,
			TemplateData: data,
		}},
	}, nil
}

// AppRequest is what SignApp certifies: the key of CSR (signed by that
// key; its subject and names are ignored) for local account User on device
// DeviceID, for Lifetime.
type AppRequest struct {
	CSR      *x509.CertificateRequest
	DeviceID string
	User     string
	Lifetime time.Duration
}

// appToken checks req and mints its token with m.
func appToken(m *Minter, tenant string, req AppRequest) (string, error) {
	if !validDeviceID(req.DeviceID) {
		return "", fmt.Errorf("signing app certificate: %w: invalid device id %q", ErrRefused, req.DeviceID)
	}
	if err := protocol.CheckUser(req.User); err != nil {
		return "", fmt.Errorf("signing app certificate for device %s: %w: %w", req.DeviceID, ErrRefused, err)
	}
	if req.CSR == nil {
		return "", fmt.Errorf("signing app certificate for device %s: %w: no csr", req.DeviceID, ErrRefused)
	}
	if err := req.CSR.CheckSignature(); err != nil {
		return "", fmt.Errorf("signing app certificate for device %s: %w: csr signature: %w", req.DeviceID, ErrRefused, err)
	}
	if req.Lifetime <= 0 || req.Lifetime > MaxAppLifetime {
		return "", fmt.Errorf("signing app certificate for device %s: %w: lifetime %s outside (0, %s]", req.DeviceID, ErrRefused, req.Lifetime, MaxAppLifetime)
	}
	return m.Mint(protocol.AppCommonName(req.User, req.DeviceID), []string{protocol.AppURI(tenant, req.DeviceID).String()}, nil)
}

// SignApp has step-ca issue an app certificate through the app
// provisioner. The caller has checked that the device is active and bounded
// the lifetime by the device certificate's; step-ca checks the CSR's
// signature and the lifetime's bounds.
func (e *Embedded) SignApp(ctx context.Context, req AppRequest) (*x509.Certificate, []*x509.Certificate, error) {
	if req.Lifetime < e.opts.minLife {
		return nil, nil, fmt.Errorf("signing app certificate for device %s: %w: lifetime %s below %s", req.DeviceID, ErrRefused, req.Lifetime, e.opts.minLife)
	}
	tok, err := appToken(e.apps, e.tenant, req)
	if err != nil {
		return nil, nil, err
	}
	certs, err := e.signWithToken(ctx, tok, req.CSR, req.Lifetime)
	if err != nil {
		return nil, nil, fmt.Errorf("signing app certificate for device %s: %w", req.DeviceID, err)
	}
	e.opts.log.Info("app certificate issued", "device", req.DeviceID, "user", req.User,
		"serial", certs[0].SerialNumber.String(), "not_after", certs[0].NotAfter)
	return certs[0], append(certs[1:len(certs):len(certs)], e.pki.Root), nil
}

// SignApp has the external step-ca issue an app certificate (see
// Embedded.SignApp); its ca.json must list AppProvisioner.
func (r *Remote) SignApp(ctx context.Context, req AppRequest) (*x509.Certificate, []*x509.Certificate, error) {
	if req.Lifetime < DefaultMinLifetime {
		return nil, nil, fmt.Errorf("signing app certificate for device %s: %w: lifetime %s below %s", req.DeviceID, ErrRefused, req.Lifetime, DefaultMinLifetime)
	}
	tok, err := appToken(r.apps, r.tenant, req)
	if err != nil {
		return nil, nil, err
	}
	leaf, chain, err := r.sign(ctx, tok, req.CSR, req.Lifetime)
	if err != nil {
		return nil, nil, fmt.Errorf("signing app certificate for device %s: %w", req.DeviceID, err)
	}
	r.log.Info("app certificate issued", "device", req.DeviceID, "user", req.User,
		"serial", leaf.SerialNumber.String(), "not_after", leaf.NotAfter)
	return leaf, chain, nil
}
