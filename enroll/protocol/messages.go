package protocol

import (
	"bytes"
	"encoding/pem"
	"fmt"
	"time"
)

// Body size limits for the API's requests and the laptop's responses.
const (
	// MaxRequestBytes bounds a request body: a statement plus a CSR.
	MaxRequestBytes = MaxCompactSize + 16<<10
	// MaxResponseBytes bounds a response body: a chain and a configuration.
	MaxResponseBytes = 256 << 10
)

// ChallengeRequest asks the API for a challenge for one operation instance.
type ChallengeRequest struct {
	// Operation is the operation id, e.g. OpEnrollDevice.
	Operation string `json:"operation"`
	// Tenant is the tenant slug.
	Tenant string `json:"tenant"`
	// Params are the operation's parameters; for enroll_device the names
	// ParamHardwareFingerprint, ParamDeviceKeySHA256 and
	// ParamWireGuardPublicKey.
	Params map[string]string `json:"params"`
}

// Validate checks the request's format; errors wrap ErrMalformed.
func (r *ChallengeRequest) Validate() error {
	// A placeholder nonce lets Operation.Validate check everything else.
	op := Operation{ID: r.Operation, Tenant: r.Tenant, Nonce: "AAAAAAAAAAAAAAAAAAAAAA", Params: r.Params}
	if err := op.Validate(); err != nil {
		return fmt.Errorf("%w: %w", ErrMalformed, err)
	}
	if r.Operation == OpEnrollDevice {
		for _, k := range []string{ParamHardwareFingerprint, ParamDeviceKeySHA256, ParamWireGuardPublicKey} {
			if r.Params[k] == "" {
				return fmt.Errorf("%w: enroll_device needs parameter %s", ErrMalformed, k)
			}
		}
		if len(r.Params) != 3 {
			return fmt.Errorf("%w: enroll_device takes exactly 3 parameters", ErrMalformed)
		}
	}
	return nil
}

// Challenge is the API's answer to a ChallengeRequest: what each signer signs.
type Challenge struct {
	// Operation is the operation id.
	Operation string `json:"operation"`
	// Tenant is the tenant slug.
	Tenant string `json:"tenant"`
	// Nonce is the server's one-time nonce, base64url without padding.
	Nonce string `json:"nonce"`
	// Digest is the canonical digest of the operation (Operation.Digest).
	Digest string `json:"digest"`
	// RequiredRoles are the roles (certificate OU) whose signatures the
	// policy requires, one signature per entry.
	RequiredRoles []string `json:"required_roles"`
	// ExpiresAt is when the nonce stops being accepted (TimestampLayout).
	ExpiresAt string `json:"expires_at"`
}

// Validate checks the challenge's format; errors wrap ErrMalformed.
func (c *Challenge) Validate() error {
	op := Operation{ID: c.Operation, Tenant: c.Tenant, Nonce: c.Nonce}
	if err := op.Validate(); err != nil {
		return fmt.Errorf("%w: %w", ErrMalformed, err)
	}
	if len(c.Digest) != digestB64Len {
		return fmt.Errorf("%w: digest must be 43 characters of base64url", ErrMalformed)
	}
	if len(c.RequiredRoles) == 0 {
		return fmt.Errorf("%w: no required roles", ErrMalformed)
	}
	for _, r := range c.RequiredRoles {
		if !isSlug(r) {
			return fmt.Errorf("%w: role %q: want 1-64 of [a-z0-9-]", ErrMalformed, r)
		}
	}
	if _, err := time.Parse(TimestampLayout, c.ExpiresAt); err != nil {
		return fmt.Errorf("%w: expires_at: %w", ErrMalformed, err)
	}
	return nil
}

// EnrollRequest carries the signed statement and the device's CSR.
type EnrollRequest struct {
	// Statement is the compact signed statement (Sign).
	Statement string `json:"statement"`
	// CSR is the device's PKCS #10 request, one PEM block.
	CSR string `json:"csr"`
}

// Validate checks that both fields are present and the CSR is one
// "CERTIFICATE REQUEST" PEM block; errors wrap ErrMalformed.
func (r *EnrollRequest) Validate() error {
	if r.Statement == "" {
		return fmt.Errorf("%w: statement missing", ErrMalformed)
	}
	if len(r.Statement) > MaxCompactSize {
		return fmt.Errorf("%w: statement larger than %d bytes", ErrMalformed, MaxCompactSize)
	}
	b, rest := pem.Decode([]byte(r.CSR))
	if b == nil || b.Type != "CERTIFICATE REQUEST" {
		return fmt.Errorf("%w: csr must be a PEM CERTIFICATE REQUEST", ErrMalformed)
	}
	if len(rest) != 0 && len(bytes.TrimSpace(rest)) != 0 {
		return fmt.Errorf("%w: data after the CSR's PEM block", ErrMalformed)
	}
	return nil
}

// AgentConfig is the tenant's configuration for the agent, delivered with
// the device certificate.
type AgentConfig struct {
	// Version is the schema version of this structure, currently 1.
	Version int `json:"version"`
	// Tenant is the tenant slug.
	Tenant string `json:"tenant"`
	// DeviceID is the device's id, also named in its certificate.
	DeviceID string `json:"device_id"`
	// CAURL is step-ca's URL, used for renewal.
	CAURL string `json:"ca_url"`
	// RootFingerprint is the SHA-256 of the tenant root's DER, hex.
	RootFingerprint string `json:"root_fingerprint"`
	// APIURL is the tenant API's URL.
	APIURL string `json:"api_url"`
	// WireGuard is the device's tunnel to the tenant's hub; absent when the
	// tenant runs no hub. Optional within version 1.
	WireGuard *WireGuardConfig `json:"wireguard,omitempty"`
	// CommandKey is the API's command-signing key (EncodeCommandKey),
	// which the agent pins at enrollment and verifies device commands
	// with; absent when the API signs no commands. Optional within
	// version 1.
	CommandKey string `json:"command_key,omitempty"`
	// Fleet is the tenant's Fleet server, which the agent configures
	// Fleet's agent (fleetd / orbit) with (agent/fleet, docs/fleet.md);
	// absent when the tenant runs no Fleet. Optional within version 1.
	Fleet *FleetConfig `json:"fleet,omitempty"`
	// Disk is the tenant's disk recovery-key escrow (agent/disk,
	// docs/disk-escrow.md); absent when the API escrows no keys.
	// Optional within version 1.
	Disk *DiskConfig `json:"disk,omitempty"`
	// Directory is the tenant's directory (LDAP and Kerberos on the
	// tunnel), which the agent configures SSSD with for directory login
	// (agent/directory, docs/directory.md); absent when the tenant runs no
	// directory. Optional within version 1.
	Directory *DirectoryConfig `json:"directory,omitempty"`
}

// FleetConfig is what fleetd needs to enroll with the tenant's Fleet.
type FleetConfig struct {
	// URL is the Fleet server's https URL (ORBIT_FLEET_URL).
	URL string `json:"url"`
	// EnrollSecret is the Fleet enroll secret of the tenant's team.
	EnrollSecret string `json:"enroll_secret"`
	// Certificate is the PEM of the CA that issued Fleet's server
	// certificate, when it is not publicly trusted
	// (ORBIT_FLEET_CERTIFICATE). Optional.
	Certificate string `json:"certificate,omitempty"`
}

// WireGuardConfig is the tunnel a device keeps to the tenant's hub. The
// device's own key is derived from its device key (docs/wireguard-key.md)
// and is never sent.
type WireGuardConfig struct {
	// Endpoint is the hub's UDP address, host:port.
	Endpoint string `json:"endpoint"`
	// PublicKey is the hub's WireGuard public key, base64 as wg(8) shows it.
	PublicKey string `json:"public_key"`
	// Address is the device's tunnel address with its prefix length, e.g.
	// 100.96.0.7/32; stable for as long as the device record exists.
	Address string `json:"address"`
	// AllowedIPs are the prefixes routed to the hub, e.g. 100.96.0.0/16.
	AllowedIPs []string `json:"allowed_ips"`
	// HubAddress is the hub's own tunnel address, e.g. 100.96.0.1.
	HubAddress string `json:"hub_address"`
}

// PathDeviceConfig is the device check-in: GET with the device certificate
// as the TLS client certificate answers the current AgentConfig.
const PathDeviceConfig = "/v1/device/config"

// EnrollResponse is the API's answer to a successful EnrollRequest.
type EnrollResponse struct {
	// DeviceID is the new device's id.
	DeviceID string `json:"device_id"`
	// Certificate is the device certificate, PEM.
	Certificate string `json:"certificate"`
	// Chain is the intermediates up to (not including) the root, PEM.
	Chain []string `json:"chain"`
	// Root is the tenant root certificate, PEM.
	Root string `json:"root"`
	// Config is the agent's configuration.
	Config AgentConfig `json:"config"`
}

// ErrorResponse is the body of every API error: a stable reason code and a
// message safe to show; the cause stays in the server's log.
type ErrorResponse struct {
	// Reason is a stable reason code (e.g. ReasonSignature, "nonce_used").
	Reason string `json:"reason"`
	// Message says what went wrong and what to do next.
	Message string `json:"message"`
}
