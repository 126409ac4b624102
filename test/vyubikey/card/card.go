package card

import (
	"bytes"
	"crypto"
	"crypto/rand"
	"crypto/x509"
	"fmt"
	"io"
	"log/slog"
	"math/big"
	"strconv"
	"strings"
	"sync"
	"time"
)

// ATR is the answer-to-reset of a YubiKey 5 over USB CCID, as recorded from
// real 5.4.3 and 5.7.1 keys ("3bfd1300008131fe158073c021c057597562694b657940",
// historical bytes spelling "YubiKey").
var ATR = []byte{
	0x3b, 0xfd, 0x13, 0x00, 0x00, 0x81, 0x31, 0xfe, 0x15, 0x80, 0x73, 0xc0,
	0x21, 0xc0, 0x57, 0x59, 0x75, 0x62, 0x69, 0x4b, 0x65, 0x79, 0x40,
}

// DefaultPIN, DefaultPUK and DefaultManagementKey are the factory
// credentials of every YubiKey.
var (
	DefaultPIN           = "123456"
	DefaultPUK           = "12345678"
	DefaultManagementKey = []byte{
		1, 2, 3, 4, 5, 6, 7, 8, 1, 2, 3, 4, 5, 6, 7, 8, 1, 2, 3, 4, 5, 6, 7, 8,
	}
)

// Form factors as the YubiKey reports them (attestation extension
// 1.3.6.1.4.1.41482.3.9 and the management application's device info).
const (
	FormFactorUSBAKeychain byte = 0x01
	FormFactorUSBANano     byte = 0x02
	FormFactorUSBCKeychain byte = 0x03
	FormFactorUSBCNano     byte = 0x04
)

// Default timings of the touch sensor.
const (
	DefaultTouchDelay   = 200 * time.Millisecond
	DefaultTouchTimeout = 15 * time.Second // a real YubiKey blinks for 15 s
	touchCacheDuration  = 15 * time.Second // touch policy "cached"
)

// TouchMode says how the virtual touch sensor behaves when a slot's touch
// policy asks for a touch.
type TouchMode int

const (
	// TouchAuto touches after Options.TouchDelay.
	TouchAuto TouchMode = iota
	// TouchManual waits until Card.Touch is called, at most
	// Options.TouchTimeout.
	TouchManual
	// TouchTimeout never touches: the operation fails after
	// Options.TouchTimeout as on a real key nobody touched.
	TouchTimeout
)

// String returns the flag spelling of the mode.
func (m TouchMode) String() string {
	switch m {
	case TouchAuto:
		return "auto"
	case TouchManual:
		return "manual"
	case TouchTimeout:
		return "timeout"
	}
	return "TouchMode(" + strconv.Itoa(int(m)) + ")"
}

// ParseTouchMode parses "auto", "manual" or "timeout".
func ParseTouchMode(s string) (TouchMode, error) {
	for _, m := range []TouchMode{TouchAuto, TouchManual, TouchTimeout} {
		if m.String() == s {
			return m, nil
		}
	}
	return 0, fmt.Errorf("unknown touch mode %q (want auto, manual or timeout)", s)
}

// Options configure a Card. The zero value is a 5.7.1 key with a random
// serial, automatic touch, in-memory state and a freshly generated
// attestation root.
type Options struct {
	// Serial is the key's serial number; 0 picks a random 8-digit one for a
	// new card. A state file stores it; a different non-zero value here is an
	// error.
	Serial uint32
	// Version is the firmware version, "5.4.3" or "5.7.1" style; "" is
	// "5.7.1". Below 5.7 the default management key is 3DES and there is no
	// MOVE/DELETE and no Ed25519/X25519/RSA-3072/4096; below 5.4 no AES
	// management keys; below 5.3 no GET METADATA.
	Version string
	// FormFactor is reported in attestations; 0 is FormFactorUSBCKeychain.
	FormFactor byte
	// Touch is the touch sensor's behaviour.
	Touch TouchMode
	// TouchDelay is how long TouchAuto takes: 0 is DefaultTouchDelay, a
	// negative value touches at once.
	TouchDelay time.Duration
	// TouchTimeout is how long TouchManual waits and TouchTimeout blinks
	// before failing: 0 is DefaultTouchTimeout.
	TouchTimeout time.Duration
	// StateFile persists the card between runs; "" keeps it in memory.
	StateFile string
	// AttestationRoot and AttestationRootKey sign the card's f9 certificate.
	// Nil generates a root with NewAttestationRoot. When a stored f9
	// certificate does not chain to this root, it is re-issued for the same
	// f9 key.
	AttestationRoot    *x509.Certificate
	AttestationRootKey crypto.Signer
	// AttestationKey is used as the f9 key of a new card instead of
	// generating an RSA-2048 key (tests use it to save time).
	AttestationKey crypto.Signer
	// Now is the clock; nil is time.Now.
	Now func() time.Time
	// Rand is the card's randomness (serial, management key witnesses,
	// certificate serials, key generation where the standard library honours
	// it); nil is crypto/rand.
	Rand io.Reader
	// Logger receives operational logs; nil discards. Secrets never reach it.
	Logger *slog.Logger
}

// Selected application.
const (
	appPIV = iota
	appManagement
	appOTP
)

// Card is one virtual YubiKey. Its methods are safe for concurrent use;
// Transmit calls are serialised, Touch may be called while one is waiting.
type Card struct {
	mu   sync.Mutex
	opts Options
	ver  [3]byte
	st   *state
	log  *slog.Logger
	rand io.Reader
	now  func() time.Time
	root *x509.Certificate

	// Volatile security status, lost on power off and reset.
	app         int
	pinVerified bool
	pinAlways   bool // PIN verified and not yet used by a PIN-always key
	mgmtAuthed  bool
	witness     []byte // management key authentication in progress
	challenge   []byte // one-way management key authentication in progress
	chain       *command
	pending     []byte // response data waiting for GET RESPONSE
	lastTouch   time.Time
	dirty       bool

	keys map[string]crypto.PrivateKey // parsed cache of st.Keys

	touch touchGate
}

// New creates a card, loading opts.StateFile when it exists and creating it
// (with factory defaults and a provisioned attestation key) when it does not.
func New(opts Options) (*Card, error) {
	if opts.Version == "" {
		opts.Version = "5.7.1"
	}
	ver, err := parseVersion(opts.Version)
	if err != nil {
		return nil, err
	}
	if opts.FormFactor == 0 {
		opts.FormFactor = FormFactorUSBCKeychain
	}
	if opts.TouchDelay == 0 {
		opts.TouchDelay = DefaultTouchDelay
	}
	if opts.TouchTimeout <= 0 {
		opts.TouchTimeout = DefaultTouchTimeout
	}
	c := &Card{
		opts: opts,
		ver:  ver,
		log:  opts.Logger,
		rand: opts.Rand,
		now:  opts.Now,
		keys: map[string]crypto.PrivateKey{},
	}
	if c.log == nil {
		c.log = slog.New(slog.DiscardHandler)
	}
	if c.rand == nil {
		c.rand = rand.Reader
	}
	if c.now == nil {
		c.now = time.Now
	}
	rootKey := opts.AttestationRootKey
	c.root = opts.AttestationRoot
	if c.root == nil || rootKey == nil {
		c.root, rootKey, err = NewAttestationRoot(c.rand)
		if err != nil {
			return nil, err
		}
	}

	if opts.StateFile != "" {
		c.st, err = loadState(opts.StateFile)
		if err != nil {
			return nil, err
		}
	}
	if c.st != nil {
		if opts.Serial != 0 && opts.Serial != c.st.Serial {
			return nil, fmt.Errorf("state file %s holds serial %d, not %d", opts.StateFile, c.st.Serial, opts.Serial)
		}
		if c.st.Version != opts.Version {
			return nil, fmt.Errorf("state file %s holds firmware %s, not %s", opts.StateFile, c.st.Version, opts.Version)
		}
		c.log.Info("loaded virtual yubikey", "serial", c.st.Serial, "version", c.st.Version, "state", opts.StateFile)
	} else {
		serial := opts.Serial
		if serial == 0 {
			n, err := rand.Int(c.rand, big.NewInt(90_000_000))
			if err != nil {
				return nil, fmt.Errorf("choosing a serial: %w", err)
			}
			serial = uint32(n.Int64()) + 10_000_000
		}
		c.st = &state{
			Schema:     stateVersion,
			Serial:     serial,
			Version:    opts.Version,
			FormFactor: opts.FormFactor,
			Keys:       map[string]*slotKey{},
			Objects:    map[string][]byte{},
		}
		c.factoryReset()
		c.dirty = true
		c.log.Info("created virtual yubikey", "serial", serial, "version", opts.Version)
	}
	if err := c.provisionAttestation(rootKey, opts.AttestationKey); err != nil {
		return nil, err
	}
	if err := c.saveIfDirty(); err != nil {
		return nil, err
	}
	return c, nil
}

// parseVersion parses "5.7.1".
func parseVersion(s string) ([3]byte, error) {
	var v [3]byte
	parts := strings.Split(s, ".")
	if len(parts) != 3 {
		return v, fmt.Errorf("firmware version %q: want major.minor.patch", s)
	}
	for i, p := range parts {
		n, err := strconv.ParseUint(p, 10, 8)
		if err != nil {
			return v, fmt.Errorf("firmware version %q: %w", s, err)
		}
		v[i] = byte(n)
	}
	return v, nil
}

// atLeast reports whether the firmware is at least major.minor.patch.
func (c *Card) atLeast(major, minor, patch byte) bool {
	return bytes.Compare(c.ver[:], []byte{major, minor, patch}) >= 0
}

// Serial returns the card's serial number.
func (c *Card) Serial() uint32 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.st.Serial
}

// Version returns the firmware version, e.g. "5.7.1".
func (c *Card) Version() string { return c.opts.Version }

// AttestationRoot returns the root certificate the card's f9 certificate
// chains to.
func (c *Card) AttestationRoot() *x509.Certificate { return c.root }

// ATR returns the answer-to-reset.
func (c *Card) ATR() []byte { return bytes.Clone(ATR) }

// PowerOff, PowerOn and Reset end the current session: PIN and management
// key status are forgotten and the PIV application is selected again.
func (c *Card) PowerOff() { c.resetSession() }

// PowerOn starts a new session; see PowerOff.
func (c *Card) PowerOn() { c.resetSession() }

// Reset is a warm reset; see PowerOff.
func (c *Card) Reset() { c.resetSession() }

func (c *Card) resetSession() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.clearSecurity()
	c.app = appPIV
	c.chain = nil
	c.pending = nil
}

func (c *Card) clearSecurity() {
	c.pinVerified = false
	c.pinAlways = false
	c.mgmtAuthed = false
	c.witness = nil
	c.challenge = nil
}

// Transmit processes one command APDU and returns the response APDU (data
// followed by a status word). It never panics: malformed commands get the
// status word a YubiKey gives them.
func (c *Card) Transmit(apdu []byte) []byte {
	c.mu.Lock()
	defer c.mu.Unlock()
	data, sw, extended := c.process(apdu)
	if c.dirty {
		if err := c.saveIfDirty(); err != nil {
			c.log.Error("saving card state", "err", err)
			return withSW(nil, swMemoryFailure)
		}
	}
	// A real key answers an extended-length command in one response and
	// splits longer answers to short commands into 256-byte pieces with
	// 61xx, to be fetched with GET RESPONSE.
	if sw == swOK && len(data) > 256 && !extended {
		c.pending = data[256:]
		return withSW(data[:256], moreData(len(c.pending)))
	}
	return withSW(data, sw)
}

func moreData(n int) uint16 {
	if n >= 256 {
		return swMoreData
	}
	return swMoreData | uint16(n)
}

func (c *Card) saveIfDirty() error {
	if !c.dirty || c.opts.StateFile == "" {
		c.dirty = false
		return nil
	}
	if err := saveState(c.opts.StateFile, c.st); err != nil {
		return err
	}
	c.dirty = false
	return nil
}

func (c *Card) process(apdu []byte) ([]byte, uint16, bool) {
	cmd, sw := parseAPDU(apdu)
	if sw != 0 {
		c.pending = nil
		return nil, sw, false
	}
	data, sw := c.processCommand(cmd)
	return data, sw, cmd.extended
}

func (c *Card) processCommand(cmd command) ([]byte, uint16) {
	if cmd.cla != 0x00 && cmd.cla != 0x10 {
		c.pending = nil
		return nil, swCLANotSupported
	}
	if cmd.ins == 0xc0 && cmd.cla == 0x00 { // GET RESPONSE
		if c.pending == nil {
			return nil, swConditionsNotSatisfed
		}
		// Transmit splits what is left again into 256-byte chunks.
		out := c.pending
		c.pending = nil
		return out, swOK
	}
	c.pending = nil

	if cmd.cla == 0x10 { // command chaining: collect, answer 9000
		if c.chain != nil && (c.chain.ins != cmd.ins || c.chain.p1 != cmd.p1 || c.chain.p2 != cmd.p2) {
			c.chain = nil
		}
		if c.chain == nil {
			c.chain = &command{ins: cmd.ins, p1: cmd.p1, p2: cmd.p2}
		}
		if len(c.chain.data)+len(cmd.data) > 1<<16 {
			c.chain = nil
			return nil, swWrongLength
		}
		c.chain.data = append(c.chain.data, cmd.data...)
		return nil, swOK
	}
	if c.chain != nil {
		if c.chain.ins == cmd.ins && c.chain.p1 == cmd.p1 && c.chain.p2 == cmd.p2 {
			cmd.data = append(c.chain.data, cmd.data...)
		}
		c.chain = nil
	}

	if cmd.ins == 0xa4 {
		return c.cmdSelect(cmd)
	}
	switch c.app {
	case appManagement:
		return c.managementCommand(cmd)
	case appOTP:
		return c.otpCommand(cmd)
	}
	return c.pivCommand(cmd)
}
