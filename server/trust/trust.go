package trust

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/kiwistack/endpoint/enroll/protocol"
	"github.com/kiwistack/endpoint/server/store"
)

// MaxPEMSize bounds the PEM file of one trust list entry.
const MaxPEMSize = 64 << 10

// Sentinel errors; test with errors.Is.
var (
	// ErrInvalid reports a certificate that cannot be a trust list entry;
	// the text says which check failed.
	ErrInvalid = errors.New("invalid trust list certificate")
	// ErrWrongOrganization reports a signer whose O is not the tenant.
	ErrWrongOrganization = errors.New("certificate names another organization")
	// ErrUnknownRole reports a signer whose OU is not a role of the policy.
	ErrUnknownRole = errors.New("certificate role is not a policy role")
	// ErrNoMatch reports a statement whose signer chains to no entry.
	ErrNoMatch = errors.New("no trust list entry admits the signer")
)

// ParsePEM parses the PEM an operator brings: exactly one CERTIFICATE block
// without headers, nothing but white space around it, at most MaxPEMSize
// bytes. Errors wrap ErrInvalid.
func ParsePEM(data []byte) (*x509.Certificate, error) {
	if len(data) > MaxPEMSize {
		return nil, fmt.Errorf("%w: larger than %d bytes", ErrInvalid, MaxPEMSize)
	}
	block, rest := pem.Decode(data)
	if block == nil || block.Type != "CERTIFICATE" {
		return nil, fmt.Errorf("%w: want one PEM CERTIFICATE block", ErrInvalid)
	}
	if len(block.Headers) != 0 {
		return nil, fmt.Errorf("%w: the PEM block has headers", ErrInvalid)
	}
	start := bytes.LastIndex(data[:len(data)-len(rest)], []byte("-----BEGIN"))
	if start < 0 || len(bytes.TrimSpace(rest)) != 0 || len(bytes.TrimSpace(data[:start])) != 0 {
		return nil, fmt.Errorf("%w: want exactly one PEM block and nothing else; split a chain into one file per certificate", ErrInvalid)
	}
	cert, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	return cert, nil
}

// Classify decides the kind of an entry: a CA certificate (basic
// constraints CA with keyCertSign) is store.TrustKindCA, any other
// certificate must pass CheckSigner and is store.TrustKindCertificate.
// tenant and roles are the tenant slug and the policy's roles. Errors wrap
// ErrInvalid, ErrWrongOrganization or ErrUnknownRole.
func Classify(cert *x509.Certificate, tenant string, roles []string, now time.Time) (string, error) {
	if !now.Before(cert.NotAfter) {
		return "", fmt.Errorf("%w: the certificate expired at %s", ErrInvalid, cert.NotAfter.UTC().Format(time.RFC3339))
	}
	if cert.IsCA {
		if !cert.BasicConstraintsValid || cert.KeyUsage&x509.KeyUsageCertSign == 0 {
			return "", fmt.Errorf("%w: a CA certificate must have valid basic constraints and the keyCertSign usage", ErrInvalid)
		}
		return store.TrustKindCA, nil
	}
	if err := CheckSigner(cert, tenant, roles); err != nil {
		return "", err
	}
	return store.TrustKindCertificate, nil
}

// CheckSigner applies the rules of a tenant signer to a certificate that an
// entry admits: not a CA, a CN, O exactly the tenant, OU exactly one role of
// roles, digitalSignature among its key usages (or none), clientAuth among
// its extended key usages (or none), and an ECDSA P-256 or P-384 key, as
// statements need. Errors wrap ErrInvalid, ErrWrongOrganization or
// ErrUnknownRole.
func CheckSigner(cert *x509.Certificate, tenant string, roles []string) error {
	if cert.IsCA {
		return fmt.Errorf("%w: a CA certificate does not sign statements", ErrInvalid)
	}
	if cert.Subject.CommonName == "" {
		return fmt.Errorf("%w: the certificate has no CN (the administrator's name)", ErrInvalid)
	}
	if o := cert.Subject.Organization; len(o) != 1 || o[0] != tenant {
		return fmt.Errorf("%w: O %q, want %q", ErrWrongOrganization, o, tenant)
	}
	if ou := cert.Subject.OrganizationalUnit; len(ou) != 1 || !slices.Contains(roles, ou[0]) {
		return fmt.Errorf("%w: OU %q, want one of %q", ErrUnknownRole, ou, roles)
	}
	if cert.KeyUsage != 0 && cert.KeyUsage&x509.KeyUsageDigitalSignature == 0 {
		return fmt.Errorf("%w: the certificate does not allow digital signatures", ErrInvalid)
	}
	if len(cert.ExtKeyUsage) > 0 && !slices.Contains(cert.ExtKeyUsage, x509.ExtKeyUsageClientAuth) &&
		!slices.Contains(cert.ExtKeyUsage, x509.ExtKeyUsageAny) {
		return fmt.Errorf("%w: the certificate's extended key usage does not include clientAuth", ErrInvalid)
	}
	k, ok := cert.PublicKey.(*ecdsa.PublicKey)
	if !ok || (k.Curve != elliptic.P256() && k.Curve != elliptic.P384()) {
		return fmt.Errorf("%w: the key must be ECDSA P-256 or P-384 (statements are ES256 or ES384)", ErrInvalid)
	}
	return nil
}

// Entry returns the store entry of cert of kind.
func Entry(cert *x509.Certificate, kind, addedBy, note string) store.TrustEntry {
	sum := sha256.Sum256(cert.Raw)
	h := hex.EncodeToString(sum[:])
	return store.TrustEntry{
		ID: h[:16], Kind: kind, DERSHA256: h, AddedBy: addedBy, Note: note,
		PEM: string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: cert.Raw})),
	}
}

// Signer is the roster row under which a signer admitted by an entry signs:
// its pseudo-serial (protocol.BYOCSerial), CN, OU and key.
func Signer(cert *x509.Certificate) store.RosterEntry {
	sum := sha256.Sum256(cert.RawSubjectPublicKeyInfo)
	role := ""
	if ou := cert.Subject.OrganizationalUnit; len(ou) == 1 {
		role = ou[0]
	}
	return store.RosterEntry{
		Serial: protocol.BYOCSerial(cert.RawSubjectPublicKeyInfo), Admin: cert.Subject.CommonName, Role: role,
		SPKISHA256: hex.EncodeToString(sum[:]),
	}
}

// Match verifies signed against the trust list at now and returns the
// statement, the signer's certificate and the entry that admits it. A
// certificate entry admits exactly its certificate (same DER); a CA entry
// admits a certificate that chains to it (through the statement's x5c
// intermediates). It checks the chain only: the caller applies
// CheckSigner and the roster. When no entry admits the signer the error
// wraps ErrNoMatch and protocol.ErrChain; a bad signature or statement
// wraps what protocol.Signed.Verify returned.
func Match(signed *protocol.Signed, entries []store.TrustEntry, now time.Time) (*protocol.Statement, *x509.Certificate, store.TrustEntry, error) {
	var errs []error
	for _, e := range entries {
		anchor, err := ParsePEM([]byte(e.PEM))
		if err != nil {
			errs = append(errs, fmt.Errorf("entry %s: %w", e.ID, err))
			continue
		}
		if e.Kind == store.TrustKindCertificate && !bytes.Equal(anchor.Raw, signed.Chain[0].Raw) {
			continue
		}
		if e.Kind != store.TrustKindCertificate && e.Kind != store.TrustKindCA {
			continue
		}
		pool := x509.NewCertPool()
		pool.AddCert(anchor)
		stmt, leaf, err := signed.Verify(pool, nil, now)
		if err == nil {
			return stmt, leaf, e, nil
		}
		if !errors.Is(err, protocol.ErrChain) {
			return nil, nil, store.TrustEntry{}, err
		}
		errs = append(errs, fmt.Errorf("entry %s: %w", e.ID, err))
	}
	return nil, nil, store.TrustEntry{}, fmt.Errorf("%w: %w: %w", protocol.ErrChain, ErrNoMatch, errors.Join(errs...))
}
