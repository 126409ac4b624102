// Package yubikey is the only code in KiwiStack that talks to a YubiKey. It
// wraps piv-go: it finds YubiKeys by what the card answers (the PIV applet,
// its version and serial), never by the reader's name; asks the person for
// the PIN through a UI without ever trying a PIN they did not type; shows
// when a touch is needed; signs digests with PIV slot 9a; reads and verifies
// the slot's attestation; and provisions a factory-fresh key for an admin.
// It returns standard-library types, so the rest of the program needs no
// card types, and it never logs a PIN, PUK or management key.
package yubikey

import (
	"context"
	"crypto"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"strings"
	"time"

	"github.com/go-piv/piv-go/v2/piv"
	"github.com/kiwistack/endpoint/attest"
)

// Sentinel errors for callers to test with errors.Is.
var (
	// ErrNoKey: no YubiKey is present (no reader, or no card answers as a YubiKey).
	ErrNoKey = errors.New("no YubiKey found")
	// ErrNotFound: no YubiKey with the requested serial is present.
	ErrNotFound = errors.New("YubiKey not found")
	// ErrPINBlocked: the PIN has no tries left.
	ErrPINBlocked = errors.New("PIN blocked")
	// ErrWrongPIN: the PIN was wrong (see PINError for tries left).
	ErrWrongPIN = errors.New("wrong PIN")
	// ErrTouchTimeout: the key waited for a touch that did not come.
	ErrTouchTimeout = errors.New("touch timeout")
	// ErrNoSlotKey: slot 9a holds no key.
	ErrNoSlotKey = errors.New("no key in slot 9a")
	// ErrCanceled: the person canceled a prompt.
	ErrCanceled = errors.New("canceled")
)

// PINError is a wrong or blocked PIN with the tries that remain.
type PINError struct {
	Retries int
}

func (e *PINError) Error() string {
	if e.Retries == 0 {
		return "PIN blocked: no tries left; unblock it with the PUK (kiwistack-enroll keys unblock-pin, or `ykman piv access unblock-pin`), then try again"
	}
	if e.Retries == 1 {
		return "wrong PIN: 1 try left before the PIN is blocked"
	}
	return fmt.Sprintf("wrong PIN: %d tries left", e.Retries)
}

// Is makes errors.Is(err, ErrWrongPIN) and errors.Is(err, ErrPINBlocked) work.
func (e *PINError) Is(target error) bool {
	if target == ErrPINBlocked {
		return e.Retries == 0
	}
	return target == ErrWrongPIN && e.Retries > 0
}

// Identity is what a slot 9a certificate says about its holder
// (seed "Authorization & trust", Z2: CN=admin, OU=role, O=tenant).
type Identity struct {
	Admin    string
	Role     string
	Tenant   string
	Issuer   string
	NotAfter string
}

// Info describes one YubiKey as the card reports it.
type Info struct {
	Reader     string
	Serial     uint32
	Firmware   string
	FormFactor string
	PINRetries int
	Slot9a     *Identity
}

// Skipped is a reader that holds no usable YubiKey, with the reason.
type Skipped struct {
	Reader string
	Reason string
}

// PINRequest tells the UI what it asks the PIN for.
type PINRequest struct {
	Key     Info   // the key the PIN is for
	Retries int    // tries left before the PIN blocks
	Purpose string // what the PIN unlocks, in words
	Again   bool   // the previous PIN was wrong
}

// UI is how this package talks to the person at the laptop: a terminal in
// the CLI, a scripted answer in tests and the demo.
type UI interface {
	// PIN asks for the PIN. It must not echo it. Returning ErrCanceled stops.
	PIN(ctx context.Context, req PINRequest) (string, error)
	// Touch tells the person to touch the key now; done is called when the
	// key has answered (touched, timed out or failed).
	Touch(key Info) (done func())
	// Choose picks one of several keys; it returns the index.
	Choose(ctx context.Context, keys []Info) (int, error)
	// Secret asks for another secret (a PUK, a new PIN) without echo;
	// label says which. For a new value the UI asks twice and compares.
	Secret(ctx context.Context, req SecretRequest) (string, error)
}

// SecretRequest tells the UI which secret it asks for.
type SecretRequest struct {
	Key   Info
	Label string // e.g. "PUK", "new PIN"
	New   bool   // a new value: confirm it by asking twice
}

// Client finds and opens YubiKeys.
type Client struct {
	logger  *slog.Logger
	readers []string
}

// Option configures a Client.
type Option func(*Client)

// WithLogger sets the logger (nil discards).
func WithLogger(l *slog.Logger) Option { return func(c *Client) { c.logger = l } }

// WithReaders limits the readers looked at to those whose name contains one
// of the given strings (as yubico-piv-tool's -r does). Opening a reader takes
// it exclusively for a moment, so this keeps away from readers that other
// programs use.
func WithReaders(names ...string) Option {
	return func(c *Client) { c.readers = append(c.readers, names...) }
}

// NewClient returns a Client that reaches YubiKeys through PC/SC.
func NewClient(opts ...Option) *Client {
	c := &Client{}
	for _, o := range opts {
		o(c)
	}
	if c.logger == nil {
		c.logger = slog.New(slog.DiscardHandler)
	}
	return c
}

// List returns every YubiKey present, sorted by serial, and the readers
// that hold no usable YubiKey with the reason. No reader at all is not an
// error: the list is empty.
func (c *Client) List(ctx context.Context) ([]Info, []Skipped, error) {
	all, err := piv.Cards()
	if err != nil {
		return nil, nil, fmt.Errorf("listing smart card readers: %w (is pcscd running? on Linux: systemctl start pcscd)", err)
	}
	readers := c.filter(all)
	var keys []Info
	var skipped []Skipped
	for _, r := range readers {
		if err := ctx.Err(); err != nil {
			return nil, nil, err
		}
		k, err := c.open(r)
		if err != nil {
			c.logger.Debug("reader skipped", "reader", r, "reason", err)
			skipped = append(skipped, Skipped{Reader: r, Reason: err.Error()})
			continue
		}
		keys = append(keys, k.info)
		k.Close()
	}
	sort.Slice(keys, func(i, j int) bool { return keys[i].Serial < keys[j].Serial })
	return keys, skipped, nil
}

// Open opens the YubiKey with the given serial. Serial 0 means "the only
// key present": with several, ui.Choose picks one (nil ui: an error that
// lists the serials).
func (c *Client) Open(ctx context.Context, serial uint32, ui UI) (*Key, error) {
	keys, skipped, err := c.List(ctx)
	if err != nil {
		return nil, err
	}
	if len(keys) == 0 {
		return nil, noKeyError(skipped)
	}
	var pick *Info
	switch {
	case serial != 0:
		for i := range keys {
			if keys[i].Serial == serial {
				pick = &keys[i]
			}
		}
		if pick == nil {
			return nil, fmt.Errorf("%w: no YubiKey with serial %d; present: %s", ErrNotFound, serial, serials(keys))
		}
	case len(keys) == 1:
		pick = &keys[0]
	default:
		if ui == nil {
			return nil, fmt.Errorf("%d YubiKeys present (%s): choose one with --serial", len(keys), serials(keys))
		}
		i, err := ui.Choose(ctx, keys)
		if err != nil {
			return nil, fmt.Errorf("choosing a YubiKey: %w", err)
		}
		if i < 0 || i >= len(keys) {
			return nil, fmt.Errorf("choosing a YubiKey: choice %d out of range", i+1)
		}
		pick = &keys[i]
	}
	k, err := c.open(pick.Reader)
	if err != nil {
		return nil, fmt.Errorf("opening YubiKey %d: %w", pick.Serial, err)
	}
	if k.info.Serial != pick.Serial {
		k.Close()
		return nil, fmt.Errorf("%w: the key in %q changed while it was being opened; try again", ErrNotFound, pick.Reader)
	}
	return k, nil
}

func (c *Client) filter(all []string) []string {
	if len(c.readers) == 0 {
		return all
	}
	var out []string
	for _, r := range all {
		for _, want := range c.readers {
			if strings.Contains(r, want) {
				out = append(out, r)
				break
			}
		}
	}
	return out
}

func noKeyError(skipped []Skipped) error {
	if len(skipped) == 0 {
		return fmt.Errorf("%w: no smart card reader or key is connected; insert your YubiKey and try again", ErrNoKey)
	}
	var parts []string
	for _, s := range skipped {
		parts = append(parts, fmt.Sprintf("%s: %s", s.Reader, s.Reason))
	}
	return fmt.Errorf("%w: insert your YubiKey and try again (readers seen: %s)", ErrNoKey, strings.Join(parts, "; "))
}

func serials(keys []Info) string {
	var s []string
	for _, k := range keys {
		s = append(s, fmt.Sprint(k.Serial))
	}
	return strings.Join(s, ", ")
}

// open connects to reader and checks that the card answers as a YubiKey:
// the PIV applet is selectable and the card gives a version and a serial.
func (c *Client) open(reader string) (*Key, error) {
	yk, err := piv.Open(reader)
	for i := 0; err != nil && isSharingViolation(err) && i < 10; i++ {
		// Another program holds the card for a moment (a PC/SC client
		// opening it, as this one does); wait for it briefly.
		time.Sleep(100 * time.Millisecond)
		yk, err = piv.Open(reader)
	}
	if err != nil {
		switch {
		case strings.Contains(err.Error(), "selecting piv applet"):
			return nil, errors.New("the card has no PIV applet: not a YubiKey")
		case isSharingViolation(err):
			return nil, errors.New("the card is in use by another program (gpg-agent's scdaemon often holds YubiKeys: run `gpgconf --kill scdaemon`), try again when it is free")
		}
		return nil, fmt.Errorf("no card answers: %w", err)
	}
	v := yk.Version()
	serial, err := yk.Serial()
	if err != nil {
		yk.Close()
		return nil, fmt.Errorf("the PIV card gives no serial number: not a YubiKey (%w)", err)
	}
	k := &Key{yk: yk, logger: c.logger}
	k.info = Info{
		Reader:     reader,
		Serial:     serial,
		Firmware:   fmt.Sprintf("%d.%d.%d", v.Major, v.Minor, v.Patch),
		PINRetries: -1,
	}
	if ff, err := yk.FormFactor(); err == nil && ff != 0 {
		k.info.FormFactor = attest.FormFactorName(byte(ff))
	}
	if n, err := yk.Retries(); err == nil {
		k.info.PINRetries = n
	}
	if cert, err := yk.Certificate(piv.SlotAuthentication); err == nil {
		k.info.Slot9a = identityOf(cert)
	}
	return k, nil
}

func identityOf(cert *x509.Certificate) *Identity {
	id := &Identity{
		Admin:    cert.Subject.CommonName,
		Issuer:   cert.Issuer.CommonName,
		NotAfter: cert.NotAfter.UTC().Format("2006-01-02T15:04:05Z"),
	}
	if len(cert.Subject.OrganizationalUnit) > 0 {
		id.Role = cert.Subject.OrganizationalUnit[0]
	}
	if len(cert.Subject.Organization) > 0 {
		id.Tenant = cert.Subject.Organization[0]
	}
	return id
}

// Key is one open YubiKey. It holds the card exclusively until Close.
type Key struct {
	yk     *piv.YubiKey
	info   Info
	logger *slog.Logger
	closed bool
}

// Info returns what the card reported when it was opened.
func (k *Key) Info() Info { return k.info }

// Close releases the card. Closing twice is harmless.
func (k *Key) Close() error {
	if k.closed {
		return nil
	}
	k.closed = true
	if err := k.yk.Close(); err != nil {
		return fmt.Errorf("closing YubiKey %d: %w", k.info.Serial, err)
	}
	return nil
}

// isSharingViolation reports PC/SC's SCARD_E_SHARING_VIOLATION, which
// piv-go reports by message only.
func isSharingViolation(err error) bool {
	return strings.Contains(err.Error(), "other connections outstanding")
}

// swOf returns the status word piv-go saw, if err carries one.
func swOf(err error) (uint16, bool) {
	var s interface{ Status() uint16 }
	if errors.As(err, &s) {
		return s.Status(), true
	}
	return 0, false
}

// pinState reads the PIN retry counter without spending a try (an empty
// VERIFY, NIST SP 800-73-4 part 2, 3.2.1). A card whose PIN is already
// verified in this session answers 9000 instead of a count: then verified is
// true and retries is -1 (unknown, and not blocked).
func (k *Key) pinState() (retries int, verified bool, err error) {
	n, err := k.yk.Retries()
	if err != nil {
		// piv-go v2.6.0 reports the 9000 answer with this message only.
		if strings.Contains(err.Error(), "expected error code from empty pin") {
			return -1, true, nil
		}
		return 0, false, fmt.Errorf("reading the PIN retry counter: %w", err)
	}
	return n, false, nil
}

// pinRetries is pinState without the verified flag.
func (k *Key) pinRetries() (int, error) {
	n, _, err := k.pinState()
	return n, err
}

// VerifyPIN asks ui for the PIN and verifies it, asking again after a wrong
// PIN while tries remain. Before asking it reads the retry counter without
// spending a try, so a blocked PIN is reported before anyone types.
func (k *Key) VerifyPIN(ctx context.Context, ui UI, purpose string) error {
	retries, err := k.pinRetries()
	if err != nil {
		return err
	}
	again := false
	for {
		if retries == 0 {
			return &PINError{Retries: 0}
		}
		k.info.PINRetries = retries
		pin, err := ui.PIN(ctx, PINRequest{Key: k.info, Retries: retries, Purpose: purpose, Again: again})
		if err != nil {
			if again {
				// Keep what went wrong before: the PIN given was wrong.
				return fmt.Errorf("%w; then reading the PIN: %w", &PINError{Retries: retries}, err)
			}
			return fmt.Errorf("reading the PIN: %w", err)
		}
		if err := checkPINFormat(pin); err != nil {
			// Not sent to the card: a malformed PIN must not cost a try.
			return err
		}
		err = k.yk.VerifyPIN(pin)
		if err == nil {
			return nil
		}
		var ae piv.AuthErr
		if !errors.As(err, &ae) {
			return fmt.Errorf("verifying the PIN: %w", err)
		}
		k.logger.Info("wrong PIN", "serial", k.info.Serial, "retries", ae.Retries)
		retries = ae.Retries
		if retries == 0 {
			return &PINError{Retries: 0}
		}
		if ctx.Err() != nil {
			return &PINError{Retries: retries}
		}
		again = true
	}
}

// checkPINFormat rejects what no YubiKey accepts as a PIN, before it reaches
// the card: 6 to 8 characters of printable ASCII.
func checkPINFormat(pin string) error {
	if len(pin) < 6 || len(pin) > 8 {
		return fmt.Errorf("a YubiKey PIN has 6 to 8 characters, this one has %d: nothing was sent to the key", len(pin))
	}
	for _, r := range pin {
		if r < 0x20 || r > 0x7e {
			return errors.New("the PIN holds a character that is not printable ASCII: nothing was sent to the key")
		}
	}
	return nil
}

// SlotPolicy is the PIN and touch policy of a slot.
type SlotPolicy struct {
	PIN   piv.PINPolicy
	Touch piv.TouchPolicy
}

// slot9a returns the public key and policies of slot 9a: from the card's
// metadata (firmware 5.3 and later), else from its attestation.
func (k *Key) slot9a() (crypto.PublicKey, SlotPolicy, error) {
	ki, err := k.yk.KeyInfo(piv.SlotAuthentication)
	if err == nil && ki.PublicKey != nil {
		return ki.PublicKey, SlotPolicy{PIN: ki.PINPolicy, Touch: ki.TouchPolicy}, nil
	}
	if err != nil && errors.Is(err, piv.ErrNotFound) {
		return nil, SlotPolicy{}, ErrNoSlotKey
	}
	att, aerr := k.yk.Attest(piv.SlotAuthentication)
	if aerr != nil {
		if errors.Is(aerr, piv.ErrNotFound) {
			return nil, SlotPolicy{}, ErrNoSlotKey
		}
		return nil, SlotPolicy{}, fmt.Errorf("reading slot 9a: %w", aerr)
	}
	// Policies unknown unless the attestation says: assume the strictest, so
	// the PIN is asked for and the touch prompt shown.
	pol := SlotPolicy{PIN: piv.PINPolicyAlways, Touch: piv.TouchPolicyAlways}
	if a, perr := attest.ParseUnverified(att); perr == nil {
		pol = policyOf(a)
	}
	return att.PublicKey, pol, nil
}

// Sign signs digest (already hashed with hash) with the key in slot 9a: it
// asks for the PIN when the slot's policy needs it, tells the person to touch
// the key when its touch policy needs it, and returns the signature (ASN.1
// DER for ECDSA) and the slot's public key.
func (k *Key) Sign(ctx context.Context, ui UI, digest []byte, hash crypto.Hash, purpose string) ([]byte, crypto.PublicKey, error) {
	pub, pol, err := k.slot9a()
	if err != nil {
		return nil, nil, err
	}
	if hash.Available() && len(digest) != hash.Size() {
		return nil, nil, fmt.Errorf("digest has %d bytes, %s wants %d", len(digest), hash, hash.Size())
	}
	if pol.PIN != piv.PINPolicyNever {
		_, verified, err := k.pinState()
		if err != nil {
			return nil, nil, err
		}
		// PIN policy "once" lets a PIN verified earlier in this session
		// serve; "always" wants it before every use.
		if !verified || pol.PIN != piv.PINPolicyOnce {
			if err := k.VerifyPIN(ctx, ui, purpose); err != nil {
				return nil, nil, err
			}
		}
	}
	priv, err := k.yk.PrivateKey(piv.SlotAuthentication, pub, piv.KeyAuth{PINPolicy: piv.PINPolicyNever})
	if err != nil {
		return nil, nil, fmt.Errorf("using slot 9a: %w", err)
	}
	signer, ok := priv.(crypto.Signer)
	if !ok {
		return nil, nil, fmt.Errorf("slot 9a holds a %T key, which cannot sign", pub)
	}
	var done func()
	if pol.Touch != piv.TouchPolicyNever {
		done = ui.Touch(k.info)
	}
	sig, err := signer.Sign(nil, digest, hash)
	if done != nil {
		done()
	}
	if err != nil {
		if sw, ok := swOf(err); ok && sw == 0x6982 && pol.Touch != piv.TouchPolicyNever {
			// A YubiKey answers "security status not satisfied" when nobody
			// touched it in time (about 15 s).
			return nil, nil, fmt.Errorf("%w: the YubiKey was not touched in time; run the command again and touch the key while it blinks", ErrTouchTimeout)
		}
		return nil, nil, fmt.Errorf("signing with slot 9a: %w", err)
	}
	return sig, pub, nil
}

// Attestation returns the key's attestation certificate (slot f9) and the
// attestation statement of slot 9a, signed by it.
func (k *Key) Attestation() (f9, slot *x509.Certificate, err error) {
	f9, err = k.yk.AttestationCertificate()
	if err != nil {
		return nil, nil, fmt.Errorf("reading the attestation certificate (slot f9): %w", err)
	}
	slot, err = k.yk.Attest(piv.SlotAuthentication)
	if err != nil {
		if errors.Is(err, piv.ErrNotFound) {
			return nil, nil, ErrNoSlotKey
		}
		return nil, nil, fmt.Errorf("attesting slot 9a: %w", err)
	}
	return f9, slot, nil
}

// Certificate returns the certificate stored in slot 9a.
func (k *Key) Certificate() (*x509.Certificate, error) {
	c, err := k.yk.Certificate(piv.SlotAuthentication)
	if err != nil {
		if errors.Is(err, piv.ErrNotFound) {
			return nil, fmt.Errorf("%w: slot 9a holds no certificate; provision the key first", ErrNoSlotKey)
		}
		return nil, fmt.Errorf("reading the slot 9a certificate: %w", err)
	}
	return c, nil
}

// policyOf maps an attestation's policy names to piv-go's values.
func policyOf(a *attest.Attestation) SlotPolicy {
	pol := SlotPolicy{PIN: piv.PINPolicyAlways, Touch: piv.TouchPolicyAlways}
	switch a.PINPolicy {
	case "never":
		pol.PIN = piv.PINPolicyNever
	case "once":
		pol.PIN = piv.PINPolicyOnce
	}
	switch a.TouchPolicy {
	case "never":
		pol.Touch = piv.TouchPolicyNever
	case "cached":
		pol.Touch = piv.TouchPolicyCached
	}
	return pol
}
