package protocol

import (
	"bytes"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"net/url"
	"strings"
	"time"
)

// App certificates (docs/app-certificate.md): the short-lived TLS client
// certificate the agent gives a desktop user's Work profile, so that the
// tenant's web front door can tell a browser on an enrolled, unrevoked
// laptop from any other. It is never a device identity.
const (
	// PathAppCertificate is POST with the device certificate as the TLS
	// client certificate and an AppCertificateRequest body; the answer is an
	// AppCertificateResponse.
	PathAppCertificate = "/v1/device/app-certificate"
	// AppCertificateOU is the OU of every app certificate's subject. No
	// device certificate carries an OU.
	AppCertificateOU = "kiwistack-app-certificate"
	// MaxAppCertificateLifetime bounds an app certificate's lifetime; the
	// API also never issues one that outlives the device certificate that
	// asked for it.
	MaxAppCertificateLifetime = 24 * time.Hour
	// MaxUserLen bounds AppCertificateRequest.User.
	MaxUserLen = 32
)

// AppURI returns the URI SAN of an app certificate of device deviceID of
// tenant: urn:kiwistack:app:<tenant>:<id>. It binds the certificate to the
// device without being a device URI (DeviceURI), so that nothing that looks
// for a device's identity can mistake an app certificate for one.
func AppURI(tenant, deviceID string) *url.URL {
	return &url.URL{Scheme: "urn", Opaque: "kiwistack:app:" + tenant + ":" + deviceID}
}

// AppCommonName is the subject CN of the app certificate of local account
// user on device deviceID: "<user>@<device id>". Users see it in the
// browser's certificate list.
func AppCommonName(user, deviceID string) string { return user + "@" + deviceID }

// IntermediateCommonName is the CN of the tenant intermediate server/ca
// creates for tenant; it issues device and app certificates, and the
// Chromium policy (launchers/chromepolicy) selects app certificates by it.
func IntermediateCommonName(tenant string) string { return tenant + " Intermediate CA" }

// IsAppCertificate reports whether c is an app certificate: its subject
// carries AppCertificateOU or one of its URIs is an app URI. The API and
// everything else that takes a device certificate refuse such a
// certificate as a device identity.
func IsAppCertificate(c *x509.Certificate) bool {
	for _, ou := range c.Subject.OrganizationalUnit {
		if ou == AppCertificateOU {
			return true
		}
	}
	for _, u := range c.URIs {
		if strings.HasPrefix(u.String(), "urn:kiwistack:app:") {
			return true
		}
	}
	return false
}

// AppCertificateRequest asks the API for an app certificate (POST
// PathAppCertificate, over mutual TLS with the device certificate).
type AppCertificateRequest struct {
	// CSR is the PKCS #10 request of the user's new key, one PEM block; its
	// subject and names are ignored (the API sets them).
	CSR string `json:"csr"`
	// User is the local account the certificate is for (CheckUser); it
	// becomes part of the subject CN.
	User string `json:"user"`
	// LifetimeSeconds asks for a lifetime; 0 means the longest allowed
	// (MaxAppCertificateLifetime, capped at the device certificate's
	// remaining life).
	LifetimeSeconds int64 `json:"lifetime_seconds,omitempty"`
}

// CheckUser checks a local account name: 1-MaxUserLen characters of
// [a-z0-9_.-], starting with a letter or underscore (the portable POSIX
// subset that useradd accepts).
func CheckUser(u string) error {
	if u == "" || len(u) > MaxUserLen {
		return fmt.Errorf("%w: user must be 1-%d characters", ErrMalformed, MaxUserLen)
	}
	for i, r := range u {
		ok := r >= 'a' && r <= 'z' || r == '_' || i > 0 && (r >= '0' && r <= '9' || r == '-' || r == '.')
		if !ok {
			return fmt.Errorf("%w: user must be lowercase letters, digits, '_', '-' and '.', starting with a letter or '_'", ErrMalformed)
		}
	}
	return nil
}

// Validate checks the request's format; errors wrap ErrMalformed.
func (r *AppCertificateRequest) Validate() error {
	if err := CheckUser(r.User); err != nil {
		return err
	}
	if r.LifetimeSeconds < 0 || r.LifetimeSeconds > int64(MaxAppCertificateLifetime/time.Second) {
		return fmt.Errorf("%w: lifetime_seconds must be 0-%d", ErrMalformed, int64(MaxAppCertificateLifetime/time.Second))
	}
	b, rest := pem.Decode([]byte(r.CSR))
	if b == nil || b.Type != "CERTIFICATE REQUEST" {
		return fmt.Errorf("%w: csr must be a PEM CERTIFICATE REQUEST", ErrMalformed)
	}
	if len(bytes.TrimSpace(rest)) != 0 {
		return fmt.Errorf("%w: data after the CSR's PEM block", ErrMalformed)
	}
	return nil
}

// ParseCSR returns the request's CSR, parsed; call Validate first.
func (r *AppCertificateRequest) ParseCSR() (*x509.CertificateRequest, error) {
	b, _ := pem.Decode([]byte(r.CSR))
	if b == nil {
		return nil, fmt.Errorf("%w: csr must be a PEM CERTIFICATE REQUEST", ErrMalformed)
	}
	csr, err := x509.ParseCertificateRequest(b.Bytes)
	if err != nil {
		return nil, fmt.Errorf("%w: csr: %w", ErrMalformed, err)
	}
	return csr, nil
}

// AppCertificateResponse is the API's answer: the app certificate and the
// chain above it.
type AppCertificateResponse struct {
	// Certificate is the app certificate, then the intermediates, PEM.
	Certificate string `json:"certificate"`
	// Root is the tenant root, PEM; the agent trusts it in the user's
	// certificate store so that the browser can build the chain.
	Root string `json:"root"`
	// NotAfter is the certificate's expiry (TimestampLayout).
	NotAfter string `json:"not_after"`
}
