package ca

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/kiwistack/endpoint/internal/atomicfile"
	"github.com/kiwistack/endpoint/internal/pemkey"
)

// Files of an intermediate rotation in the state directory (docs/ca.md).
const (
	// PendingIntermediateKeyFile is the key of the next intermediate,
	// made by RequestIntermediate and moved over IntermediateKeyFile when
	// the rotation applies (0600).
	PendingIntermediateKeyFile = "intermediate_ca.pending.key"
	// retiredSuffix ends the names of retired intermediates' certificates,
	// "intermediate_ca.<sha256 hex>.retired.crt"; their keys are deleted.
	retiredSuffix = ".retired.crt"
)

// MSP is the MSP's root: it signs each tenant's intermediate. In production
// its key is offline; `kiwistack-api msp` uses it from a directory holding
// RootCertFile and RootKeyFile.
type MSP struct {
	Root *x509.Certificate
	Key  *ecdsa.PrivateKey
}

// LoadOrCreateMSP loads the MSP root from dir (created 0700), creating a
// P-256 root valid RootLifetime when there is none.
func LoadOrCreateMSP(dir string, now time.Time) (*MSP, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("creating msp directory: %w", err)
	}
	key, root, err := loadOrCreateCA(dir, RootCertFile, RootKeyFile, func(key *ecdsa.PrivateKey) (*x509.Certificate, error) {
		return newRoot(key, now)
	})
	if err != nil {
		return nil, fmt.Errorf("loading msp root from %s: %w", dir, err)
	}
	if key == nil {
		return nil, fmt.Errorf("loading msp root from %s: %s is missing; the MSP root key signs intermediates", dir, RootKeyFile)
	}
	return &MSP{Root: root, Key: key}, nil
}

// newRoot self-signs the MSP root for key.
func newRoot(key *ecdsa.PrivateKey, now time.Time) (*x509.Certificate, error) {
	tmpl := &x509.Certificate{
		Subject: pkix.Name{
			Organization: []string{"KiwiStack MSP"},
			CommonName:   "KiwiStack MSP Root CA",
		},
		NotBefore:             now.Add(-time.Minute),
		NotAfter:              now.Add(RootLifetime),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
		MaxPathLen:            1,
	}
	return issue(tmpl, tmpl, key.Public(), key)
}

// intermediateTemplate is the tenant intermediate's template: O=tenant,
// path length 0, IntermediateLifetime but never past the root.
func intermediateTemplate(tenant string, root *x509.Certificate, now time.Time) *x509.Certificate {
	notAfter := now.Add(IntermediateLifetime)
	if notAfter.After(root.NotAfter) {
		notAfter = root.NotAfter
	}
	return &x509.Certificate{
		Subject: pkix.Name{
			Organization: []string{tenant},
			CommonName:   tenant + " Intermediate CA",
		},
		NotBefore:             now.Add(-time.Minute),
		NotAfter:              notAfter,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
		MaxPathLenZero:        true,
	}
}

// SignIntermediate issues tenant's intermediate for the key of csr, which
// must be a P-256 request whose signature verifies. The subject is set
// here (O=tenant); whatever the request names is ignored.
func (m *MSP) SignIntermediate(csrPEM []byte, tenant string, now time.Time) (*x509.Certificate, error) {
	if !slugOK(tenant) {
		return nil, fmt.Errorf("signing intermediate: %q is not a tenant slug", tenant)
	}
	block, rest := pem.Decode(csrPEM)
	if block == nil || block.Type != "CERTIFICATE REQUEST" || strings.TrimSpace(string(rest)) != "" {
		return nil, errors.New("signing intermediate: want one PEM CERTIFICATE REQUEST (kiwistack-api intermediate request prints it)")
	}
	csr, err := x509.ParseCertificateRequest(block.Bytes)
	if err != nil {
		return nil, fmt.Errorf("signing intermediate: parsing the request: %w", err)
	}
	if err := csr.CheckSignature(); err != nil {
		return nil, fmt.Errorf("signing intermediate: the request's signature does not verify: %w", err)
	}
	pub, ok := csr.PublicKey.(*ecdsa.PublicKey)
	if !ok || pub.Curve != elliptic.P256() {
		return nil, errors.New("signing intermediate: the request's key is not P-256")
	}
	cert, err := issue(intermediateTemplate(tenant, m.Root, now), m.Root, pub, m.Key)
	if err != nil {
		return nil, fmt.Errorf("signing intermediate: %w", err)
	}
	return cert, nil
}

// slugOK is a cheap tenant slug check (the API checks slugs fully).
func slugOK(s string) bool {
	return s != "" && len(s) <= 63 && strings.Trim(s, "abcdefghijklmnopqrstuvwxyz0123456789-") == "" &&
		!strings.HasPrefix(s, "-") && !strings.HasSuffix(s, "-")
}

// RequestIntermediate makes (or reuses) the pending intermediate key in the
// state directory dir and returns a PEM certificate request for it, which
// the MSP signs (MSP.SignIntermediate) and a rotate_intermediate operation
// then carries. The key never leaves dir.
func RequestIntermediate(dir, tenant string) ([]byte, error) {
	path := filepath.Join(dir, PendingIntermediateKeyFile)
	var key *ecdsa.PrivateKey
	data, err := os.ReadFile(path)
	switch {
	case err == nil:
		if key, err = pemkey.ParseECDSA(data); err != nil {
			return nil, fmt.Errorf("reading %s: %w", path, err)
		}
	case errors.Is(err, fs.ErrNotExist):
		if _, err := os.Stat(filepath.Join(dir, IntermediateCertFile)); err != nil {
			return nil, fmt.Errorf("requesting an intermediate: %s is not a tenant CA state directory: %w", dir, err)
		}
		if key, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader); err != nil {
			return nil, fmt.Errorf("generating key: %w", err)
		}
		der, err := x509.MarshalPKCS8PrivateKey(key)
		if err != nil {
			return nil, fmt.Errorf("encoding key: %w", err)
		}
		if err := atomicfile.Create(path, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), 0o600); err != nil {
			return nil, fmt.Errorf("writing the pending intermediate key: %w", err)
		}
	default:
		return nil, fmt.Errorf("reading %s: %w", path, err)
	}
	der, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{
		Subject: pkix.Name{Organization: []string{tenant}, CommonName: tenant + " Intermediate CA"},
	}, key)
	if err != nil {
		return nil, fmt.Errorf("creating the request: %w", err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: der}), nil
}

// CheckRotation reports why next cannot replace the current intermediate:
// it must be a CA certificate with path length 0 for this tenant, signed by
// the tenant's root, valid now, for the pending key in the state directory
// (RequestIntermediate), and not the current one.
func (e *Embedded) CheckRotation(next *x509.Certificate) error {
	e.mu.RLock()
	defer e.mu.RUnlock()
	_, err := e.checkRotation(next)
	return err
}

func (e *Embedded) checkRotation(next *x509.Certificate) (*ecdsa.PrivateKey, error) {
	now := e.opts.now()
	switch {
	case next == nil:
		return nil, errors.New("no certificate")
	case next.Equal(e.pki.Intermediate):
		return nil, errors.New("it is the current intermediate")
	case !next.IsCA || !next.BasicConstraintsValid || !(next.MaxPathLenZero || next.MaxPathLen == 0):
		return nil, errors.New("it is not a CA certificate with path length 0")
	case len(next.Subject.Organization) != 1 || next.Subject.Organization[0] != e.tenant:
		return nil, fmt.Errorf("it is for organisation %q, not tenant %q", next.Subject.Organization, e.tenant)
	case now.Before(next.NotBefore) || now.After(next.NotAfter):
		return nil, fmt.Errorf("it is valid from %s to %s, not now", next.NotBefore.UTC().Format(time.RFC3339), next.NotAfter.UTC().Format(time.RFC3339))
	}
	if err := next.CheckSignatureFrom(e.pki.Root); err != nil {
		return nil, fmt.Errorf("it is not signed by the tenant's root (fingerprint %s): %w", e.pki.Fingerprint(), err)
	}
	path := filepath.Join(e.dir, PendingIntermediateKeyFile)
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("no pending intermediate key (kiwistack-api intermediate request makes it): %w", err)
	}
	key, err := pemkey.ParseECDSA(data)
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", path, err)
	}
	if !key.PublicKey.Equal(next.PublicKey) {
		return nil, errors.New("it is not for the pending intermediate key (request it again with kiwistack-api intermediate request)")
	}
	return key, nil
}

// Rotate makes next the intermediate that signs every new certificate. The
// old one's certificate is kept as retired (Retired) and its key deleted;
// from then on renewals of certificates it issued are refused. The files
// change in a crash-safe order: retired copy, new certificate, then the
// pending key renamed over the old key (LoadOrCreatePKI completes a
// rotation a crash interrupted there). step-ca is restarted over the new
// signer while requests wait.
func (e *Embedded) Rotate(next *x509.Certificate) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	key, err := e.checkRotation(next)
	if err != nil {
		return fmt.Errorf("rotating the intermediate: %w", err)
	}
	old := e.pki.Intermediate
	retired := filepath.Join(e.dir, "intermediate_ca."+Fingerprint(old)+retiredSuffix)
	if err := atomicfile.WriteFile(retired, PEM(old), 0o644); err != nil {
		return fmt.Errorf("rotating the intermediate: keeping the retired certificate: %w", err)
	}
	if err := atomicfile.WriteFile(filepath.Join(e.dir, IntermediateCertFile), PEM(next), 0o644); err != nil {
		return fmt.Errorf("rotating the intermediate: writing the new certificate: %w", err)
	}
	if err := finishRotation(e.dir); err != nil {
		return fmt.Errorf("rotating the intermediate: %w", err)
	}
	if err := e.auth.Shutdown(); err != nil {
		e.opts.log.Warn("stopping step-ca for the rotation", "err", err)
	}
	e.pki.Intermediate, e.pki.IntermediateKey = next, key
	if err := e.startAuthority(); err != nil {
		return fmt.Errorf("rotating the intermediate: %w", err)
	}
	e.opts.log.Info("intermediate rotated", "tenant", e.tenant, "retired", Fingerprint(old), "current", Fingerprint(next))
	return nil
}

// finishRotation moves the pending key over the intermediate key, which
// deletes the old key.
func finishRotation(dir string) error {
	if err := os.Rename(filepath.Join(dir, PendingIntermediateKeyFile), filepath.Join(dir, IntermediateKeyFile)); err != nil {
		return fmt.Errorf("installing the new intermediate key: %w", err)
	}
	return atomicfile.SyncDir(dir)
}

// Retired returns the intermediates this CA used before, oldest first.
func (e *Embedded) Retired() ([]*x509.Certificate, error) {
	return RetiredIntermediates(e.dir)
}

// RetiredIntermediates reads the retired intermediates kept in the state
// directory dir, oldest first (by not-before).
func RetiredIntermediates(dir string) ([]*x509.Certificate, error) {
	names, err := filepath.Glob(filepath.Join(dir, "intermediate_ca.*"+retiredSuffix))
	if err != nil {
		return nil, fmt.Errorf("listing retired intermediates: %w", err)
	}
	var out []*x509.Certificate
	for _, n := range names {
		data, err := os.ReadFile(n)
		if err != nil {
			return nil, fmt.Errorf("reading retired intermediate: %w", err)
		}
		c, err := parseCertPEM(data)
		if err != nil {
			return nil, fmt.Errorf("reading %s: %w", n, err)
		}
		out = append(out, c)
	}
	slices.SortFunc(out, func(a, b *x509.Certificate) int { return a.NotBefore.Compare(b.NotBefore) })
	return out, nil
}
