package enroll

import (
	"context"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/kiwistack/endpoint/attest"
	"github.com/kiwistack/endpoint/enroll/apiclient"
	"github.com/kiwistack/endpoint/enroll/protocol"
	"github.com/kiwistack/endpoint/enroll/yubikey"
	"github.com/kiwistack/endpoint/internal/atomicfile"
	"go.yaml.in/yaml/v3"
)

// ProvisionOptions are the flags of `keys provision`.
type ProvisionOptions struct {
	Serial uint32
	Admin  string
	Role   string
	Tenant string
	// APIURL is the tenant API that issues the admin certificate, reached
	// over TLS pinned to the root whose SHA-256 is RootFingerprint.
	APIURL          string
	RootFingerprint string
	// ProvisioningTokenFile holds the MSP's provisioning token.
	ProvisioningTokenFile string
	// Validity is the certificate's lifetime; 0 is the CA's default (a year).
	Validity time.Duration
	// SecretsPath receives the new PIN, PUK and management key (0600, must
	// not exist). Empty: they are printed once to the output.
	SecretsPath string
	// FactoryDefaults says the key still has Yubico's published PIN, PUK and
	// management key. Otherwise CurrentSecretsPath must name a secrets file.
	FactoryDefaults    bool
	CurrentSecretsPath string
	// RosterPath, when set, receives the roster entry as well as the output.
	RosterPath string
	Now        func() time.Time
	Rand       io.Reader
}

// Secrets is the file that `keys provision` writes: the key's new PIV secrets.
type Secrets struct {
	Serial        uint32 `yaml:"serial"`
	PIN           string `yaml:"pin"`
	PUK           string `yaml:"puk"`
	ManagementKey string `yaml:"management_key"` // hex
}

// RosterEntry is one key in the roster of policies/authorization.yaml
// (seed "Authorization & trust", Z4), with the evidence of its issuance.
type RosterEntry struct {
	Serial          uint32            `yaml:"serial"`
	Admin           string            `yaml:"admin"`
	Role            string            `yaml:"role"`
	PublicKeySHA256 string            `yaml:"public_key_sha256"`
	Certificate     string            `yaml:"certificate"`
	Attestation     RosterAttestation `yaml:"attestation"`
}

// RosterAttestation is the verified attestation recorded at issuance.
type RosterAttestation struct {
	Firmware    string `yaml:"firmware"`
	FormFactor  string `yaml:"form_factor,omitempty"`
	PINPolicy   string `yaml:"pin_policy"`
	TouchPolicy string `yaml:"touch_policy"`
	Root        string `yaml:"root"`
	F9          string `yaml:"f9"`
	Statement   string `yaml:"statement"`
}

// Provision provisions a YubiKey for an admin and prints its roster entry.
func (c Keys) Provision(ctx context.Context, o ProvisionOptions) error {
	if err := yubikey.ValidateSubject(o.Admin, o.Role, o.Tenant); err != nil {
		return err
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	issue, err := apiIssuer(ctx, o)
	if err != nil {
		return err
	}
	var current yubikey.Credentials
	switch {
	case o.FactoryDefaults && o.CurrentSecretsPath != "":
		return errors.New("give either --factory-defaults or --current-secrets, not both")
	case o.FactoryDefaults:
		current = yubikey.FactoryDefaults()
	case o.CurrentSecretsPath != "":
		s, err := readSecrets(o.CurrentSecretsPath)
		if err != nil {
			return err
		}
		if s.current.PIN == "" {
			return fmt.Errorf("%s holds no PIN", o.CurrentSecretsPath)
		}
		current = s.current
		if o.Serial == 0 {
			o.Serial = s.serial
		}
	default:
		return errors.New("say what the key's current secrets are: --factory-defaults for a new key, or --current-secrets FILE for one provisioned before (no default PIN is ever tried unasked)")
	}
	if o.SecretsPath != "" {
		if _, err := os.Stat(o.SecretsPath); err == nil {
			return fmt.Errorf("%s exists: the new secrets need a new file, so that old ones are never overwritten", o.SecretsPath)
		}
	}
	newCreds, err := yubikey.NewCredentials(o.Rand)
	if err != nil {
		return err
	}

	k, err := c.Client.Open(ctx, o.Serial, c.UI)
	if err != nil {
		return err
	}
	defer k.Close()
	serial := k.Info().Serial
	if info := k.Info(); info.Slot9a != nil && o.FactoryDefaults {
		return fmt.Errorf("YubiKey %d already holds a slot 9a certificate for %s (%s, %s): it is not a new key; pass --current-secrets to re-provision it", serial, info.Slot9a.Admin, info.Slot9a.Role, info.Slot9a.Tenant)
	}
	secrets := Secrets{Serial: serial, PIN: newCreds.PIN, PUK: newCreds.PUK, ManagementKey: hex.EncodeToString(newCreds.ManagementKey)}
	printed := false
	save := func(yubikey.Credentials) error {
		b, err := yaml.Marshal(secrets)
		if err != nil {
			return err
		}
		if o.SecretsPath == "" {
			// Shown once, before the card changes: the operator must copy them.
			fmt.Fprintf(c.Out, "New secrets of YubiKey %d (shown once; hand the PIN to its holder, keep PUK and management key in the safe):\n  PIN:            %s\n  PUK:            %s\n  Management key: %s\n",
				serial, secrets.PIN, secrets.PUK, secrets.ManagementKey)
			printed = true
			return nil
		}
		header := fmt.Sprintf("# PIV secrets of YubiKey %d, set by kiwistack-enroll keys provision on %s.\n# Hand the PIN to the key's holder; keep PUK and management key in the safe.\n", serial, o.Now().UTC().Format(time.RFC3339))
		return atomicfile.Create(o.SecretsPath, append([]byte(header), b...), 0o600)
	}
	fmt.Fprintf(c.Out, "Provisioning YubiKey %d (firmware %s) for %s, %s of %s.\n", serial, k.Info().Firmware, o.Admin, o.Role, o.Tenant)
	res, err := k.Provision(ctx, yubikey.ProvisionRequest{
		Admin: o.Admin, Role: o.Role, Tenant: o.Tenant,
		Current: current, New: newCreds, SaveNew: save, Issue: issue, Verifier: c.Verifier, UI: c.UI,
	})
	if err != nil {
		return err
	}
	if o.SecretsPath != "" && !printed {
		fmt.Fprintf(c.Out, "New PIN, PUK and management key written to %s (mode 0600).\n", o.SecretsPath)
	}
	fmt.Fprintf(c.Out, "Slot 9a: P-256 key generated on the card (PIN once, touch always); attestation verified (chains to %s).\n", res.Attestation.Root)
	fmt.Fprintf(c.Out, "Certificate: CN=%s, OU=%s, O=%s, issued by %s, valid until %s.\n", o.Admin, o.Role, o.Tenant,
		res.Certificate.Issuer.CommonName, res.Certificate.NotAfter.UTC().Format(time.RFC3339))
	entry := RosterEntry{
		Serial: serial, Admin: o.Admin, Role: o.Role, PublicKeySHA256: res.PublicKeySHA256,
		Certificate: pemCert(res.Certificate),
		Attestation: RosterAttestation{
			Firmware: res.Attestation.Firmware, FormFactor: res.Attestation.FormFactor,
			PINPolicy: res.Attestation.PINPolicy, TouchPolicy: res.Attestation.TouchPolicy,
			Root: res.Attestation.Root, F9: pemCert(res.F9), Statement: pemCert(res.Statement),
		},
	}
	doc, err := yaml.Marshal(map[string][]RosterEntry{"roster": {entry}})
	if err != nil {
		return fmt.Errorf("encoding the roster entry: %w", err)
	}
	if o.RosterPath != "" {
		if err := atomicfile.WriteFile(o.RosterPath, doc, 0o644); err != nil {
			return fmt.Errorf("writing the roster entry: %w", err)
		}
		fmt.Fprintf(c.Out, "Roster entry written to %s; add it to the tenant's policies/authorization.yaml:\n", o.RosterPath)
	} else {
		fmt.Fprintln(c.Out, "Roster entry for the tenant's policies/authorization.yaml:")
	}
	_, err = c.Out.Write(doc)
	return err
}

type secretsFile struct {
	serial  uint32
	current yubikey.Credentials
}

func readSecrets(path string) (secretsFile, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return secretsFile{}, fmt.Errorf("reading the current secrets: %w", err)
	}
	var s Secrets
	dec := yaml.NewDecoder(strings.NewReader(string(b)))
	dec.KnownFields(true)
	if err := dec.Decode(&s); err != nil {
		return secretsFile{}, fmt.Errorf("%s is not a secrets file written by keys provision: %w", path, err)
	}
	mk, err := hex.DecodeString(s.ManagementKey)
	if err != nil || len(mk) != 24 {
		return secretsFile{}, fmt.Errorf("%s: management_key must be 48 hex digits", path)
	}
	return secretsFile{serial: s.Serial, current: yubikey.Credentials{PIN: s.PIN, PUK: s.PUK, ManagementKey: mk}}, nil
}

// apiIssuer reads the provisioning token and connects to the API before the
// card changes, so that a wrong URL, fingerprint or token file fails early,
// and returns an issuer that asks the API for the admin certificate.
func apiIssuer(ctx context.Context, o ProvisionOptions) (yubikey.IssueFunc, error) {
	if o.APIURL == "" || o.RootFingerprint == "" || o.ProvisioningTokenFile == "" {
		return nil, errors.New("--api, --root-fingerprint and --provisioning-token-file name the tenant API that issues admin certificates (kiwistack-api dev prints all three)")
	}
	b, err := os.ReadFile(o.ProvisioningTokenFile)
	if err != nil {
		return nil, fmt.Errorf("reading the provisioning token: %w", err)
	}
	token := strings.TrimSpace(string(b))
	if token == "" || strings.ContainsAny(token, " \t\r\n") {
		return nil, fmt.Errorf("%s does not hold a provisioning token (one line, no spaces)", o.ProvisioningTokenFile)
	}
	api, err := apiclient.Dial(ctx, o.APIURL, o.RootFingerprint, apiclient.WithBearerToken(token))
	if err != nil {
		return nil, err
	}
	lifetime := ""
	if o.Validity > 0 {
		lifetime = o.Validity.String()
	}
	return func(ctx context.Context, req yubikey.IssueRequest) (*x509.Certificate, error) {
		resp, err := api.AdminCertificate(ctx, protocol.AdminCertificateRequest{
			Serial: req.Serial, Admin: req.Admin, Role: req.Role, Lifetime: lifetime,
			CSR:                     string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: req.CSR.Raw})),
			Attestation:             pemCert(req.Attestation),
			AttestationIntermediate: pemCert(req.F9),
		})
		var ae *apiclient.Error
		if errors.As(err, &ae) {
			return nil, fmt.Errorf("%w; the YubiKey already has its new secrets and key: run keys provision again with --current-secrets once this is fixed", err)
		}
		if err != nil {
			return nil, err
		}
		cert, err := attest.ParseCertificatePEM([]byte(resp.Certificate))
		if err != nil {
			return nil, fmt.Errorf("the API's certificate: %w", err)
		}
		if org := cert.Subject.Organization; len(org) != 1 || org[0] != req.Tenant {
			return nil, fmt.Errorf("the API at %s issued a certificate for organization %q, not tenant %s; check --api and --tenant", api.URL(), org, req.Tenant)
		}
		return cert, nil
	}, nil
}
