package yubikey

import (
	"context"
	"crypto"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"math/big"

	"github.com/go-piv/piv-go/v2/piv"
	"github.com/kiwistack/endpoint/attest"
	"github.com/kiwistack/endpoint/enroll/protocol"
)

// Credentials are a YubiKey's PIV secrets.
type Credentials struct {
	PIN           string
	PUK           string
	ManagementKey []byte
}

// FactoryDefaults are the PIV secrets of a new YubiKey, as Yubico publishes them.
func FactoryDefaults() Credentials {
	return Credentials{PIN: piv.DefaultPIN, PUK: piv.DefaultPUK, ManagementKey: append([]byte(nil), piv.DefaultManagementKey...)}
}

// NewCredentials draws a random 8-digit PIN, 8-digit PUK and 24-byte
// management key (AES-192 on firmware 5.4 and later, 3DES before) from r.
func NewCredentials(r io.Reader) (Credentials, error) {
	if r == nil {
		r = rand.Reader
	}
	pin, err := randomDigits(r, 8)
	if err != nil {
		return Credentials{}, err
	}
	puk, err := randomDigits(r, 8)
	if err != nil {
		return Credentials{}, err
	}
	mk := make([]byte, 24)
	if _, err := io.ReadFull(r, mk); err != nil {
		return Credentials{}, fmt.Errorf("drawing a management key: %w", err)
	}
	return Credentials{PIN: pin, PUK: puk, ManagementKey: mk}, nil
}

func randomDigits(r io.Reader, n int) (string, error) {
	max := big.NewInt(1)
	for range n {
		max.Mul(max, big.NewInt(10))
	}
	v, err := rand.Int(r, max)
	if err != nil {
		return "", fmt.Errorf("drawing random digits: %w", err)
	}
	return fmt.Sprintf("%0*d", n, v), nil
}

// IssueRequest is what the tenant API needs to certify a new slot 9a key:
// a CSR signed by the key on the card and the attestation that it was
// generated there, with the house policies.
type IssueRequest struct {
	Serial uint32
	Admin  string
	Role   string
	Tenant string
	// CSR is signed by the slot 9a key and names CN=Admin, OU=Role, O=Tenant.
	CSR *x509.CertificateRequest
	// Attestation is slot 9a's attestation statement, F9 the YubiKey's
	// attestation certificate that signed it.
	Attestation *x509.Certificate
	F9          *x509.Certificate
}

// IssueFunc has the tenant's CA certify the key of req.CSR as an
// administrator's key (in kiwistack-enroll: the API's POST
// /v1/admin-certificates) and returns the certificate.
type IssueFunc func(ctx context.Context, req IssueRequest) (*x509.Certificate, error)

// ProvisionRequest says how to provision a YubiKey for an admin.
type ProvisionRequest struct {
	Admin  string // the holder's name, the certificate's CN
	Role   string // founder, sysadmin, office-mgr, …: the certificate's OU
	Tenant string // the tenant slug: the certificate's O

	Current Credentials // the key's secrets now
	New     Credentials // the secrets it gets

	// SaveNew is called with the new secrets before anything on the card
	// changes, so they cannot be lost halfway. It must store them durably.
	SaveNew func(Credentials) error
	Issue   IssueFunc
	// UI is told when the key must be touched (signing the CSR); nil shows
	// nothing.
	UI UI
	// Verifier checks the new key's attestation (zero value: Yubico's roots).
	Verifier attest.Verifier
}

// Provisioned is the result of provisioning: what goes into the roster.
type Provisioned struct {
	Serial      uint32
	Certificate *x509.Certificate
	Attestation *attest.Attestation
	F9          *x509.Certificate
	Statement   *x509.Certificate
	// PublicKeySHA256 is the hex SHA-256 of the 9a key's SubjectPublicKeyInfo.
	PublicKeySHA256 string
}

// ValidateSubject checks the admin name, role and tenant slug that go into
// a slot 9a certificate (protocol.ValidateAdminSubject, which the API
// applies too).
func ValidateSubject(admin, role, tenant string) error {
	return protocol.ValidateAdminSubject(admin, role, tenant)
}

// Provision turns a key into an admin's key: it verifies the current PIN,
// replaces the management key, PIN and PUK (after SaveNew has stored the new
// ones), generates a P-256 key in slot 9a on the card (PIN once, touch
// always), verifies the key's attestation and that it attests this very key,
// signs a CSR for CN=admin, OU=role, O=tenant with it (new PIN, one touch),
// has req.Issue certify it, and stores that certificate in slot 9a.
func (k *Key) Provision(ctx context.Context, req ProvisionRequest) (*Provisioned, error) {
	if err := ValidateSubject(req.Admin, req.Role, req.Tenant); err != nil {
		return nil, err
	}
	if req.Issue == nil || req.SaveNew == nil {
		return nil, errors.New("provisioning needs an issuer and a place to save the new secrets")
	}
	if err := checkPINFormat(req.New.PIN); err != nil {
		return nil, fmt.Errorf("new PIN: %w", err)
	}
	if err := checkPINFormat(req.New.PUK); err != nil {
		return nil, fmt.Errorf("new PUK: %w", err)
	}
	if len(req.New.ManagementKey) != 24 {
		return nil, fmt.Errorf("new management key: %d bytes, want 24", len(req.New.ManagementKey))
	}
	serial := k.info.Serial

	// Nothing changes on the card until the current secrets are proven.
	retries, err := k.pinRetries()
	if err != nil {
		return nil, err
	}
	if retries == 0 {
		return nil, &PINError{Retries: 0}
	}
	if err := checkPINFormat(req.Current.PIN); err != nil {
		return nil, fmt.Errorf("current PIN: %w", err)
	}
	if err := k.yk.VerifyPIN(req.Current.PIN); err != nil {
		var ae piv.AuthErr
		if errors.As(err, &ae) {
			return nil, fmt.Errorf("the current PIN of YubiKey %d is not the one given (%w); nothing was changed", serial, &PINError{Retries: ae.Retries})
		}
		return nil, fmt.Errorf("verifying the current PIN: %w", err)
	}
	if err := req.SaveNew(req.New); err != nil {
		return nil, fmt.Errorf("saving the new secrets before changing the key: %w; nothing was changed", err)
	}
	if err := k.yk.SetManagementKey(req.Current.ManagementKey, req.New.ManagementKey); err != nil {
		return nil, fmt.Errorf("replacing the management key (is the current one right?): %w; the PIN and PUK are unchanged", err)
	}
	if err := k.yk.SetPIN(req.Current.PIN, req.New.PIN); err != nil {
		return nil, fmt.Errorf("replacing the PIN: %w; the management key is already the new one", err)
	}
	if err := k.yk.SetPUK(req.Current.PUK, req.New.PUK); err != nil {
		return nil, fmt.Errorf("replacing the PUK (is the current one right?): %w; the management key and PIN are already the new ones", err)
	}

	pub, err := k.yk.GenerateKey(req.New.ManagementKey, piv.SlotAuthentication, piv.Key{
		Algorithm:   piv.AlgorithmEC256,
		PINPolicy:   piv.PINPolicyOnce,
		TouchPolicy: piv.TouchPolicyAlways,
	})
	if err != nil {
		return nil, fmt.Errorf("generating the slot 9a key on YubiKey %d: %w", serial, err)
	}
	f9, stmt, err := k.Attestation()
	if err != nil {
		return nil, err
	}
	att, err := req.Verifier.VerifyKey(f9, stmt, pub)
	if err != nil {
		return nil, fmt.Errorf("the new key's attestation does not verify: %w; this is not a genuine YubiKey key, do not issue it", err)
	}
	if att.Serial != serial {
		return nil, fmt.Errorf("the attestation names serial %d but the card answers %d; do not issue this key", att.Serial, serial)
	}
	if att.PINPolicy != "once" || att.TouchPolicy != "always" {
		return nil, fmt.Errorf("the attested policies are PIN %s, touch %s; want once and always", att.PINPolicy, att.TouchPolicy)
	}
	csr, err := k.csr(pub, req)
	if err != nil {
		return nil, err
	}
	cert, err := req.Issue(ctx, IssueRequest{Serial: serial, Admin: req.Admin, Role: req.Role, Tenant: req.Tenant,
		CSR: csr, Attestation: stmt, F9: f9})
	if err != nil {
		return nil, fmt.Errorf("issuing the admin certificate: %w", err)
	}
	if eq, ok := cert.PublicKey.(interface{ Equal(crypto.PublicKey) bool }); !ok || !eq.Equal(pub) {
		return nil, errors.New("the issued certificate is for another key; not stored")
	}
	if err := k.yk.SetCertificate(req.New.ManagementKey, piv.SlotAuthentication, cert); err != nil {
		return nil, fmt.Errorf("storing the certificate in slot 9a: %w", err)
	}
	k.info.Slot9a = identityOf(cert)
	spki, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return nil, fmt.Errorf("encoding the public key: %w", err)
	}
	sum := sha256.Sum256(spki)
	return &Provisioned{
		Serial:          serial,
		Certificate:     cert,
		Attestation:     att,
		F9:              f9,
		Statement:       stmt,
		PublicKeySHA256: hex.EncodeToString(sum[:]),
	}, nil
}

// csr returns a CSR for the subject of req signed by the slot 9a key pub,
// with the new PIN; the person is asked to touch the key.
func (k *Key) csr(pub crypto.PublicKey, req ProvisionRequest) (*x509.CertificateRequest, error) {
	priv, err := k.yk.PrivateKey(piv.SlotAuthentication, pub, piv.KeyAuth{PIN: req.New.PIN, PINPolicy: piv.PINPolicyOnce})
	if err != nil {
		return nil, fmt.Errorf("using the new slot 9a key: %w", err)
	}
	signer, ok := priv.(crypto.Signer)
	if !ok {
		return nil, fmt.Errorf("slot 9a holds a %T key, which cannot sign", pub)
	}
	tmpl := &x509.CertificateRequest{
		Subject: pkix.Name{CommonName: req.Admin, OrganizationalUnit: []string{req.Role}, Organization: []string{req.Tenant}},
	}
	der, err := x509.CreateCertificateRequest(rand.Reader, tmpl, touchSigner{Signer: signer, key: k, ui: req.UI})
	if err != nil {
		if sw, ok := swOf(err); ok && sw == 0x6982 {
			return nil, fmt.Errorf("%w: the YubiKey was not touched in time while signing the certificate request; run the command again with --current-secrets and touch the key while it blinks", ErrTouchTimeout)
		}
		return nil, fmt.Errorf("signing the certificate request with slot 9a: %w", err)
	}
	return x509.ParseCertificateRequest(der)
}

// touchSigner tells the UI to ask for a touch around each signature.
type touchSigner struct {
	crypto.Signer
	key *Key
	ui  UI
}

func (s touchSigner) Sign(r io.Reader, digest []byte, opts crypto.SignerOpts) ([]byte, error) {
	if s.ui != nil {
		done := s.ui.Touch(s.key.info)
		defer done()
	}
	return s.Signer.Sign(r, digest, opts)
}
