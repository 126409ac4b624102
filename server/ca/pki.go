package ca

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"math/big"
	"os"
	"path/filepath"
	"time"

	"go.step.sm/crypto/jose"

	"github.com/kiwistack/endpoint/internal/atomicfile"
	"github.com/kiwistack/endpoint/internal/pemkey"
)

// File names inside the state directory. Keys are written 0600, certificates
// 0644; every file is written atomically.
const (
	RootCertFile         = "root_ca.crt"
	RootKeyFile          = "root_ca.key"
	IntermediateCertFile = "intermediate_ca.crt"
	IntermediateKeyFile  = "intermediate_ca.key"
	ProvisionerKeyFile   = "provisioner.jwk"
	// AdminProvisionerKeyFile is the key of the provisioner for
	// administrators' slot 9a certificates.
	AdminProvisionerKeyFile = "admin-provisioner.jwk"
	DatabaseFile            = "step-ca.db"
)

// Validity of the CA certificates created by LoadOrCreatePKI.
const (
	RootLifetime         = 20 * 365 * 24 * time.Hour
	IntermediateLifetime = 10 * 365 * 24 * time.Hour
)

// PKI is the tenant's certificate authority material as loaded from the
// state directory.
type PKI struct {
	Root            *x509.Certificate
	Intermediate    *x509.Certificate
	IntermediateKey crypto.Signer
	ProvisionerKey  *jose.JSONWebKey
	// AdminProvisionerKey signs the tokens of admin certificates.
	AdminProvisionerKey *jose.JSONWebKey
}

// Fingerprint returns the SHA-256 of the root certificate's DER, in lower-case
// hex, as `step certificate fingerprint` prints it and as devices pass it
// with --root-fingerprint.
func (p *PKI) Fingerprint() string { return Fingerprint(p.Root) }

// Fingerprint returns the SHA-256 of cert's DER in lower-case hex.
func Fingerprint(cert *x509.Certificate) string {
	sum := sha256.Sum256(cert.Raw)
	return hex.EncodeToString(sum[:])
}

// LoadOrCreatePKI loads the PKI from dir, creating what is missing: an MSP
// root (P-256, RootLifetime), a tenant intermediate (O=tenant, path length
// 0, IntermediateLifetime) and the two JWK provisioner keys (devices, admins). Existing files are
// kept, so a restart keeps the root fingerprint. dir is created 0700.
func LoadOrCreatePKI(dir, tenant string, now time.Time) (*PKI, error) {
	return LoadOrCreatePKIUnder(dir, tenant, nil, now)
}

// LoadOrCreatePKIUnder is LoadOrCreatePKI with the root taken from msp
// (when not nil): its certificate is copied into dir, its key is not, and
// a missing intermediate is signed by it. Tenants made under one MSP share
// the root and have independent intermediates (seed D4 scenario 03).
func LoadOrCreatePKIUnder(dir, tenant string, msp *MSP, now time.Time) (*PKI, error) {
	if tenant == "" {
		return nil, errors.New("creating pki: empty tenant")
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("creating pki state directory: %w", err)
	}
	p := &PKI{}
	var rootKey *ecdsa.PrivateKey
	var root *x509.Certificate
	var err error
	if msp != nil {
		if err := atomicfile.Create(filepath.Join(dir, RootCertFile), PEM(msp.Root), 0o644); err != nil && !errors.Is(err, atomicfile.ErrExists) {
			return nil, fmt.Errorf("installing the msp root: %w", err)
		}
		rootKey, root = msp.Key, msp.Root
		data, err := os.ReadFile(filepath.Join(dir, RootCertFile))
		if err != nil {
			return nil, fmt.Errorf("loading root: %w", err)
		}
		if have, err := parseCertPEM(data); err != nil || !have.Equal(msp.Root) {
			return nil, fmt.Errorf("loading root: the root in %s is not the MSP's root (fingerprint %s)", dir, Fingerprint(msp.Root))
		}
	} else {
		rootKey, root, err = loadOrCreateCA(dir, RootCertFile, RootKeyFile, func(key *ecdsa.PrivateKey) (*x509.Certificate, error) {
			return newRoot(key, now)
		})
		if err != nil {
			return nil, fmt.Errorf("loading root: %w", err)
		}
	}
	p.Root = root
	if err := completeRotation(dir); err != nil {
		return nil, fmt.Errorf("loading intermediate: %w", err)
	}
	intKey, intermediate, err := loadOrCreateCA(dir, IntermediateCertFile, IntermediateKeyFile, func(key *ecdsa.PrivateKey) (*x509.Certificate, error) {
		if rootKey == nil {
			return nil, errors.New("root key missing: cannot create an intermediate")
		}
		return issue(intermediateTemplate(tenant, root, now), root, key.Public(), rootKey)
	})
	if err != nil {
		return nil, fmt.Errorf("loading intermediate: %w", err)
	}
	if err := intermediate.CheckSignatureFrom(root); err != nil {
		return nil, fmt.Errorf("intermediate in %s is not signed by the root: %w", dir, err)
	}
	if got := intermediate.Subject.Organization; len(got) != 1 || got[0] != tenant {
		return nil, fmt.Errorf("intermediate in %s belongs to tenant %q, not %q", dir, got, tenant)
	}
	p.Intermediate, p.IntermediateKey = intermediate, intKey
	if p.ProvisionerKey, err = loadOrCreateJWK(filepath.Join(dir, ProvisionerKeyFile)); err != nil {
		return nil, fmt.Errorf("loading provisioner key: %w", err)
	}
	if p.AdminProvisionerKey, err = loadOrCreateJWK(filepath.Join(dir, AdminProvisionerKeyFile)); err != nil {
		return nil, fmt.Errorf("loading admin provisioner key: %w", err)
	}
	return p, nil
}

// completeRotation finishes a rotation (Embedded.Rotate) that a crash
// interrupted after the new certificate was written: when the pending key
// is the intermediate certificate's key, it replaces the old key.
func completeRotation(dir string) error {
	pending, err := os.ReadFile(filepath.Join(dir, PendingIntermediateKeyFile))
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("reading the pending intermediate key: %w", err)
	}
	certPEM, err := os.ReadFile(filepath.Join(dir, IntermediateCertFile))
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("reading the intermediate: %w", err)
	}
	key, err := pemkey.ParseECDSA(pending)
	if err != nil {
		return fmt.Errorf("reading the pending intermediate key: %w", err)
	}
	cert, err := parseCertPEM(certPEM)
	if err != nil || !key.PublicKey.Equal(cert.PublicKey) {
		return nil // a rotation requested, not yet applied
	}
	return finishRotation(dir)
}

// loadOrCreateCA returns the key and certificate in dir. When the
// certificate is missing, it creates a key and a certificate through mk; the
// key is written before the certificate, so a crash in between leaves a key
// without certificate, which the next start replaces. When the certificate
// exists but its key does not, the certificate is returned with a nil key
// (a root whose key was moved offline).
func loadOrCreateCA(dir, certName, keyName string, mk func(*ecdsa.PrivateKey) (*x509.Certificate, error)) (*ecdsa.PrivateKey, *x509.Certificate, error) {
	certPath, keyPath := filepath.Join(dir, certName), filepath.Join(dir, keyName)
	certPEM, err := os.ReadFile(certPath)
	switch {
	case err == nil:
		cert, err := parseCertPEM(certPEM)
		if err != nil {
			return nil, nil, fmt.Errorf("reading %s: %w", certPath, err)
		}
		keyPEM, err := os.ReadFile(keyPath)
		if errors.Is(err, fs.ErrNotExist) {
			return nil, cert, nil
		}
		if err != nil {
			return nil, nil, fmt.Errorf("reading key: %w", err)
		}
		key, err := pemkey.ParseECDSA(keyPEM)
		if err != nil {
			return nil, nil, fmt.Errorf("reading %s: %w", keyPath, err)
		}
		if !key.PublicKey.Equal(cert.PublicKey) {
			return nil, nil, fmt.Errorf("key %s does not match certificate %s", keyPath, certPath)
		}
		return key, cert, nil
	case errors.Is(err, fs.ErrNotExist):
	default:
		return nil, nil, fmt.Errorf("reading certificate: %w", err)
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, fmt.Errorf("generating key: %w", err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, nil, fmt.Errorf("encoding key: %w", err)
	}
	if err := atomicfile.WriteFile(keyPath, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), 0o600); err != nil {
		return nil, nil, fmt.Errorf("writing key: %w", err)
	}
	cert, err := mk(key)
	if err != nil {
		return nil, nil, err
	}
	if err := atomicfile.Create(certPath, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: cert.Raw}), 0o644); err != nil {
		return nil, nil, fmt.Errorf("writing certificate: %w", err)
	}
	return key, cert, nil
}

func issue(tmpl, parent *x509.Certificate, pub crypto.PublicKey, signer crypto.Signer) (*x509.Certificate, error) {
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 128))
	if err != nil {
		return nil, fmt.Errorf("generating serial: %w", err)
	}
	tmpl.SerialNumber = serial
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, pub, signer)
	if err != nil {
		return nil, fmt.Errorf("signing certificate: %w", err)
	}
	return x509.ParseCertificate(der)
}

func parseCertPEM(data []byte) (*x509.Certificate, error) {
	block, _ := pem.Decode(data)
	if block == nil || block.Type != "CERTIFICATE" {
		return nil, errors.New("no PEM certificate")
	}
	return x509.ParseCertificate(block.Bytes)
}

// loadOrCreateJWK loads the provisioner's private JWK from path, or creates
// a P-256 one (key id = its RFC 7638 thumbprint) and writes it 0600.
func loadOrCreateJWK(path string) (*jose.JSONWebKey, error) {
	data, err := os.ReadFile(path)
	if err == nil {
		var k jose.JSONWebKey
		if err := json.Unmarshal(data, &k); err != nil {
			return nil, fmt.Errorf("parsing %s: %w", path, err)
		}
		if k.IsPublic() || k.KeyID == "" {
			return nil, fmt.Errorf("%s holds no private key with a key id", path)
		}
		return &k, nil
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("reading %s: %w", path, err)
	}
	k, err := jose.GenerateJWK("EC", "P-256", "ES256", "sig", "", 0)
	if err != nil {
		return nil, fmt.Errorf("generating provisioner key: %w", err)
	}
	tp, err := k.Thumbprint(crypto.SHA256)
	if err != nil {
		return nil, fmt.Errorf("provisioner key thumbprint: %w", err)
	}
	k.KeyID = base64.RawURLEncoding.EncodeToString(tp)
	data, err = json.Marshal(k)
	if err != nil {
		return nil, fmt.Errorf("encoding provisioner key: %w", err)
	}
	if err := atomicfile.Create(path, data, 0o600); err != nil {
		return nil, fmt.Errorf("writing provisioner key: %w", err)
	}
	return k, nil
}

// PEM returns certs as concatenated PEM blocks.
func PEM(certs ...*x509.Certificate) []byte {
	var out []byte
	for _, c := range certs {
		out = append(out, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Raw})...)
	}
	return out
}
