package ca

import (
	"context"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"time"

	"github.com/smallstep/certificates/authority/provisioner"
	"go.step.sm/crypto/jose"
)

// Administrators' slot 9a certificates.
const (
	// AdminProvisionerName is the JWK provisioner for administrators'
	// certificates. Renewal is disabled: a new certificate comes only from
	// provisioning the YubiKey again.
	AdminProvisionerName = "kiwistack-admins"
	// AdminDefaultLifetime and AdminMaxLifetime bound an admin certificate.
	AdminDefaultLifetime = 365 * 24 * time.Hour
	AdminMaxLifetime     = 365 * 24 * time.Hour
	// adminMinLifetime is the shortest admin certificate step-ca issues.
	adminMinLifetime = time.Hour
)

// adminTemplate makes CN=<admin>, OU=<role>, O=<tenant> with the YubiKey's
// URI (AdminURI) as the only SAN, for signatures and TLS client
// authentication. The admin name is the token's subject and the role its
// "role" claim; the tenant is fixed by the provisioner, so a token cannot
// name another tenant.
const adminTemplate = `{
	"subject": {
		"commonName": {{ toJson .Subject.CommonName }},
		"organizationalUnit": {{ toJson .Token.role }},
		"organization": {{ toJson .tenant }}
	},
	"sans": {{ toJson .SANs }},
	"keyUsage": ["digitalSignature"],
	"extKeyUsage": ["clientAuth"]
}`

// AdminProvisioner returns the step-ca provisioner that issues admin
// certificates with key as its public key: the embedded authority uses it,
// and an external step-ca is configured with the same JSON (see
// docs/ca.md).
func AdminProvisioner(key *jose.JSONWebKey, tenant string) (*provisioner.JWK, error) {
	if key == nil {
		return nil, errors.New("admin provisioner: no key")
	}
	pub := key.Public()
	data, err := json.Marshal(map[string]string{"tenant": tenant})
	if err != nil {
		return nil, err
	}
	disableRenewal := true
	return &provisioner.JWK{
		Type: "JWK",
		Name: AdminProvisionerName,
		Key:  &pub,
		Claims: &provisioner.Claims{
			MinTLSDur:      &provisioner.Duration{Duration: adminMinLifetime},
			MaxTLSDur:      &provisioner.Duration{Duration: AdminMaxLifetime},
			DefaultTLSDur:  &provisioner.Duration{Duration: AdminDefaultLifetime},
			DisableRenewal: &disableRenewal,
		},
		Options: &provisioner.Options{X509: &provisioner.X509Options{
			Template:     adminTemplate,
			TemplateData: data,
		}},
	}, nil
}

func adminProvisioner(pki *PKI, tenant string) (*provisioner.JWK, error) {
	return AdminProvisioner(pki.AdminProvisionerKey, tenant)
}

// AdminURI returns the URI SAN of an admin certificate:
// urn:kiwistack:admin:<tenant>:<yubikey serial>.
func AdminURI(tenant string, serial uint32) *url.URL {
	return &url.URL{Scheme: "urn", Opaque: "kiwistack:admin:" + tenant + ":" + strconv.FormatUint(uint64(serial), 10)}
}

// AdminRequest is what SignAdmin certifies: the slot 9a key of YubiKey
// Serial (CSR signed by that key), for Subject (CN admin, OU role; O is the
// tenant and is set by the provisioner).
type AdminRequest struct {
	CSR      *x509.CertificateRequest
	Serial   uint32
	Admin    string
	Role     string
	Lifetime time.Duration // 0: AdminDefaultLifetime
}

// Subject returns the subject the certificate will carry for tenant.
func (r AdminRequest) Subject(tenant string) pkix.Name {
	return pkix.Name{CommonName: r.Admin, OrganizationalUnit: []string{r.Role}, Organization: []string{tenant}}
}

// SignAdmin has step-ca issue an administrator's slot 9a certificate. The
// caller has verified the key's YubiKey attestation and authorised the
// request; step-ca checks the CSR's signature and the lifetime.
func (e *Embedded) SignAdmin(ctx context.Context, req AdminRequest) (*x509.Certificate, []*x509.Certificate, error) {
	tok, err := adminToken(e.admins, e.tenant, req)
	if err != nil {
		return nil, nil, err
	}
	certs, err := e.signWithToken(ctx, tok, req.CSR, req.Lifetime)
	if err != nil {
		return nil, nil, fmt.Errorf("signing admin certificate for YubiKey %d: %w", req.Serial, err)
	}
	e.opts.log.Info("admin certificate issued", "serial", req.Serial, "admin", req.Admin, "role", req.Role,
		"cert_serial", certs[0].SerialNumber.String(), "not_after", certs[0].NotAfter)
	return certs[0], append(certs[1:len(certs):len(certs)], e.pki.Root), nil
}

// adminToken checks req and mints its token with m.
func adminToken(m *Minter, tenant string, req AdminRequest) (string, error) {
	if req.CSR == nil {
		return "", fmt.Errorf("signing admin certificate: %w: no csr", ErrRefused)
	}
	if err := req.CSR.CheckSignature(); err != nil {
		return "", fmt.Errorf("signing admin certificate: %w: csr signature: %w", ErrRefused, err)
	}
	if req.Serial == 0 || req.Admin == "" || req.Role == "" {
		return "", fmt.Errorf("signing admin certificate: %w: serial, admin and role are required", ErrRefused)
	}
	if req.Lifetime < 0 || req.Lifetime > AdminMaxLifetime || (req.Lifetime != 0 && req.Lifetime < adminMinLifetime) {
		return "", fmt.Errorf("signing admin certificate: %w: lifetime %s outside [%s, %s]", ErrRefused, req.Lifetime, adminMinLifetime, AdminMaxLifetime)
	}
	return m.Mint(req.Admin, []string{AdminURI(tenant, req.Serial).String()}, map[string]any{"role": req.Role})
}
