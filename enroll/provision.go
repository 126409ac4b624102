package enroll

import (
	"context"
	"crypto"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"math/big"
	"os"
	"strings"
	"time"

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
	// CACertPath and CAKeyPath name the tenant intermediate that certifies
	// the admin's key: a stand-in until the API issues admin certificates.
	CACertPath string
	CAKeyPath  string
	Validity   time.Duration
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
	if o.Validity <= 0 {
		o.Validity = 365 * 24 * time.Hour
	}
	issue, err := fileIssuer(o.CACertPath, o.CAKeyPath, o.Validity, o.Now, o.Rand)
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
		Current: current, New: newCreds, SaveNew: save, Issue: issue, Verifier: c.Verifier,
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

// fileIssuer returns an issuer that signs admin certificates with a CA
// certificate and key read from files.
func fileIssuer(certPath, keyPath string, validity time.Duration, now func() time.Time, r io.Reader) (yubikey.IssueFunc, error) {
	if certPath == "" || keyPath == "" {
		return nil, errors.New("--ca-cert and --ca-key name the tenant intermediate that certifies admin keys")
	}
	ca, err := readCert(certPath, "the CA certificate")
	if err != nil {
		return nil, err
	}
	if !ca.IsCA || ca.KeyUsage&x509.KeyUsageCertSign == 0 {
		return nil, fmt.Errorf("%s is not a CA certificate (basic constraints CA and key usage certSign needed)", certPath)
	}
	key, err := readPrivateKey(keyPath)
	if err != nil {
		return nil, err
	}
	if eq, ok := key.Public().(interface{ Equal(crypto.PublicKey) bool }); !ok || !eq.Equal(ca.PublicKey) {
		return nil, fmt.Errorf("%s is not the key of %s", keyPath, certPath)
	}
	if r == nil {
		r = rand.Reader
	}
	return func(_ context.Context, pub crypto.PublicKey, subject pkix.Name) (*x509.Certificate, error) {
		serial, err := rand.Int(r, new(big.Int).Lsh(big.NewInt(1), 127))
		if err != nil {
			return nil, fmt.Errorf("drawing a serial number: %w", err)
		}
		start := now().Add(-5 * time.Minute)
		end := start.Add(validity)
		if end.After(ca.NotAfter) {
			end = ca.NotAfter
		}
		tmpl := &x509.Certificate{
			SerialNumber: serial,
			Subject:      subject,
			NotBefore:    start,
			NotAfter:     end,
			KeyUsage:     x509.KeyUsageDigitalSignature,
			ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
		}
		der, err := x509.CreateCertificate(r, tmpl, ca, pub, key)
		if err != nil {
			return nil, fmt.Errorf("signing the certificate: %w", err)
		}
		return x509.ParseCertificate(der)
	}, nil
}

func readPrivateKey(path string) (crypto.Signer, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading the CA key: %w", err)
	}
	block, _ := pem.Decode(b)
	if block == nil {
		return nil, fmt.Errorf("%s is not a PEM private key", path)
	}
	var key any
	switch block.Type {
	case "PRIVATE KEY":
		key, err = x509.ParsePKCS8PrivateKey(block.Bytes)
	case "EC PRIVATE KEY":
		key, err = x509.ParseECPrivateKey(block.Bytes)
	case "RSA PRIVATE KEY":
		key, err = x509.ParsePKCS1PrivateKey(block.Bytes)
	default:
		return nil, fmt.Errorf("%s holds a %q block, not a private key (encrypted keys: decrypt first with step crypto change-pass --no-password)", path, block.Type)
	}
	if err != nil {
		return nil, fmt.Errorf("parsing the CA key %s: %w", path, err)
	}
	s, ok := key.(crypto.Signer)
	if !ok {
		return nil, fmt.Errorf("%s holds a %T, which cannot sign", path, key)
	}
	return s, nil
}
