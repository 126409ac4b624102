package yubikey

import (
	"context"
	"crypto"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"io"

	"github.com/go-piv/piv-go/v2/piv"
	"github.com/kiwistack/endpoint/attest"
)

// ReissueRequest says how to have slot 9a's certificate issued again for
// the key the slot already holds (after the tenant's intermediate was
// rotated): the key is never generated again.
type ReissueRequest struct {
	// ManagementKey authenticates writing the new certificate (24 bytes).
	ManagementKey []byte
	// PIN unlocks slot 9a to sign the CSR; empty: UI asks for it. A PIN
	// given here that the card refuses is not tried twice.
	PIN string
	// Issue has the tenant's CA certify the key; IssueRequest's Admin,
	// Role and Tenant are those of the certificate in slot 9a now ("" when
	// there is none), and its CSR names no subject: the tenant's roster
	// names it.
	Issue IssueFunc
	// UI asks for the PIN (unless PIN is set) and for the touch.
	UI UI
	// Verifier checks the slot's attestation (zero value: Yubico's roots).
	Verifier attest.Verifier
}

// Reissued is the result of Reissue.
type Reissued struct {
	Serial uint32
	// Old is the certificate slot 9a held before (nil when it held none),
	// New the one it holds now.
	Old, New    *x509.Certificate
	Attestation *attest.Attestation
	// PublicKeySHA256 is the hex SHA-256 of the 9a key's SubjectPublicKeyInfo.
	PublicKeySHA256 string
}

// Reissue replaces slot 9a's certificate by a new one for the same key: it
// reads and verifies the slot's attestation (no PIN), checks that it
// attests the key in the slot with PIN policy once or always and touch
// policy always, signs a CSR with the key (PIN, one touch), has req.Issue
// certify it, checks that the answer is for the same key, and stores it in
// slot 9a with the management key. Nothing on the card changes unless
// every step before the last succeeded.
func (k *Key) Reissue(ctx context.Context, req ReissueRequest) (*Reissued, error) {
	if req.Issue == nil || (req.UI == nil && req.PIN == "") {
		return nil, errors.New("reissuing needs an issuer, and a UI or the PIN")
	}
	if len(req.ManagementKey) != 24 {
		return nil, fmt.Errorf("management key: %d bytes, want 24", len(req.ManagementKey))
	}
	if req.PIN != "" {
		if err := checkPINFormat(req.PIN); err != nil {
			return nil, fmt.Errorf("PIN: %w", err)
		}
	}
	serial := k.info.Serial
	pub, _, err := k.slot9a()
	if err != nil {
		return nil, err
	}
	old, err := k.yk.Certificate(piv.SlotAuthentication)
	if err != nil && !errors.Is(err, piv.ErrNotFound) {
		return nil, fmt.Errorf("reading the slot 9a certificate: %w", err)
	}
	f9, stmt, err := k.Attestation()
	if err != nil {
		return nil, err
	}
	att, err := req.Verifier.VerifyKey(f9, stmt, pub)
	if err != nil {
		return nil, fmt.Errorf("the slot 9a attestation of YubiKey %d does not verify: %w", serial, err)
	}
	if att.Serial != serial {
		return nil, fmt.Errorf("the attestation names serial %d but the card answers %d; this key cannot be reissued", att.Serial, serial)
	}
	if att.Slot != "9a" {
		return nil, fmt.Errorf("the attestation is for slot %q, not 9a", att.Slot)
	}
	if (att.PINPolicy != "once" && att.PINPolicy != "always") || att.TouchPolicy != "always" {
		return nil, fmt.Errorf("slot 9a's attested policies are PIN %s, touch %s; an admin key needs PIN once (or always) and touch always: provision the key again", att.PINPolicy, att.TouchPolicy)
	}
	ui := req.UI
	if req.PIN != "" {
		ui = givenPIN{UI: req.UI, pin: req.PIN}
	}
	der, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{},
		slotSigner{ctx: ctx, key: k, ui: ui, pub: pub})
	if err != nil {
		return nil, fmt.Errorf("signing the certificate request with slot 9a: %w", err)
	}
	csr, err := x509.ParseCertificateRequest(der)
	if err != nil {
		return nil, fmt.Errorf("parsing the certificate request: %w", err)
	}
	ir := IssueRequest{Serial: serial, CSR: csr, Attestation: stmt, F9: f9}
	if old != nil {
		id := identityOf(old)
		ir.Admin, ir.Role, ir.Tenant = id.Admin, id.Role, id.Tenant
	}
	cert, err := req.Issue(ctx, ir)
	if err != nil {
		return nil, fmt.Errorf("reissuing the admin certificate: %w", err)
	}
	if eq, ok := cert.PublicKey.(interface{ Equal(crypto.PublicKey) bool }); !ok || !eq.Equal(pub) {
		return nil, errors.New("the reissued certificate is for another key; not stored, slot 9a is unchanged")
	}
	if err := k.yk.SetCertificate(req.ManagementKey, piv.SlotAuthentication, cert); err != nil {
		return nil, fmt.Errorf("storing the new certificate in slot 9a (is the management key right?): %w; slot 9a is unchanged, run the command again", err)
	}
	k.info.Slot9a = identityOf(cert)
	spki, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return nil, fmt.Errorf("encoding the public key: %w", err)
	}
	sum := sha256.Sum256(spki)
	return &Reissued{Serial: serial, Old: old, New: cert, Attestation: att, PublicKeySHA256: hex.EncodeToString(sum[:])}, nil
}

// slotSigner is slot 9a as a crypto.Signer, through Key.Sign (PIN as the
// slot's policy wants, touch prompt).
type slotSigner struct {
	ctx context.Context
	key *Key
	ui  UI
	pub crypto.PublicKey
}

func (s slotSigner) Public() crypto.PublicKey { return s.pub }

func (s slotSigner) Sign(_ io.Reader, digest []byte, opts crypto.SignerOpts) ([]byte, error) {
	sig, _, err := s.key.Sign(s.ctx, s.ui, digest, opts.HashFunc(), "sign the request for your new admin certificate")
	return sig, err
}

// givenPIN answers the first PIN prompt with a PIN given beforehand (a
// secrets file) and refuses to answer again, so that a wrong one costs one
// try only.
type givenPIN struct {
	UI
	pin string
}

func (g givenPIN) PIN(_ context.Context, req PINRequest) (string, error) {
	if req.Again {
		return "", errors.New("the PIN from the secrets file was refused; it is not tried again")
	}
	return g.pin, nil
}

// Touch shows the touch prompt through the wrapped UI, if any.
func (g givenPIN) Touch(key Info) func() {
	if g.UI == nil {
		return func() {}
	}
	return g.UI.Touch(key)
}
