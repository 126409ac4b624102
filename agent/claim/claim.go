// Package claim is the agent's OEM first-boot claim (zero-touch
// enrollment): it reads the OEM bootstrap file (BootstrapPath), the
// laptop's hardware serial and fingerprint, makes a new device key, its CSR
// and the WireGuard key derived from it, claims at the tenant API over TLS
// pinned to the file's root (POST /v1/claims), checks and installs the
// answer exactly as the enroller does (enroll/install: Check, Write)
// and, after the enrollment record is written, deletes the token file.
//
// It runs with no person and no terminal: while the network or the API is
// unreachable it retries with capped exponential backoff and jitter; on a
// definitive refusal (token used, expired, revoked, another laptop's) it
// stops with a *RefusedError. A laptop that is already enrolled is left
// alone (a crash between installing and deleting the token leaves such a
// laptop, whose token the API would refuse as used). Controller runs it as
// the agent's "claim" controller, one attempt per reconcile pass. It does
// not run the agent's other controllers, renew certificates or bring up the
// tunnel, and it never logs the token.
package claim

import (
	"context"
	"crypto/rand"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"math/big"
	"net/http"
	"os"
	"path/filepath"
	"time"

	"github.com/kiwistack/endpoint/enroll/apiclient"
	"github.com/kiwistack/endpoint/enroll/install"
	"github.com/kiwistack/endpoint/enroll/protocol"
	"github.com/kiwistack/endpoint/platform/hwid"
	"github.com/kiwistack/endpoint/platform/paths"
)

// BootstrapFile is the name of the OEM bootstrap file in the layout's
// configuration directory (/etc/kiwistack/bootstrap.yaml on Linux).
const BootstrapFile = "bootstrap.yaml"

// BootstrapPath returns where the OEM bootstrap file of layout lives.
func BootstrapPath(l paths.Layout) string { return filepath.Join(l.ConfigDir, BootstrapFile) }

// Backoff defaults: the first retry after about InitialBackoff, doubling up
// to MaxBackoff.
const (
	DefaultInitialBackoff = 2 * time.Second
	DefaultMaxBackoff     = 5 * time.Minute
)

// ErrNoBootstrapFile reports a laptop that is not enrolled and has no OEM
// bootstrap file: there is nothing to claim with.
var ErrNoBootstrapFile = errors.New("no OEM bootstrap file")

// ErrBadBootstrapFile reports an OEM bootstrap file that does not parse;
// retrying does not help.
var ErrBadBootstrapFile = errors.New("the OEM bootstrap file is not valid")

// RefusedError is a definitive refusal: the API refused the claim for a
// reason that retrying does not change, or its answer was not acceptable.
// The token file stays in place for an administrator to look at.
type RefusedError struct {
	// Reason is the API's reason code (e.g. "bootstrap_token_used"), or
	// "bad_answer" when the API's answer failed the laptop's checks.
	Reason string
	// Status is the HTTP status (0 for a bad answer).
	Status int
	// Message says what to do next.
	Message string
}

// Error implements error.
func (e *RefusedError) Error() string {
	return fmt.Sprintf("the claim was refused for good (%s): %s", e.Reason, e.Message)
}

// ReasonBadAnswer is RefusedError.Reason for an API answer that failed the
// laptop's checks.
const ReasonBadAnswer = "bad_answer"

// API is the tenant API as the claim uses it; *apiclient.Client implements it.
type API interface {
	Claim(ctx context.Context, req protocol.ClaimRequest) (*protocol.EnrollResponse, error)
}

// Options configures Claim; only Root is usually set.
type Options struct {
	// Root prefixes every path read and written ("" is the real root).
	Root string
	// Hardware reads the laptop's hardware identity; hwid.Read when nil.
	// Its Serial must be the one the token was made for.
	Hardware func(ctx context.Context) (hwid.Fingerprint, error)
	// Dial connects to the tenant API pinned to the root fingerprint;
	// apiclient.Dial when nil.
	Dial func(ctx context.Context, apiURL, rootFingerprint string) (API, error)
	// Now is the clock; time.Now when nil.
	Now func() time.Time
	// Sleep waits d or until ctx is done; a timer when nil.
	Sleep func(ctx context.Context, d time.Duration) error
	// Rand is the source of the device key and the jitter; crypto/rand
	// when nil.
	Rand io.Reader
	// InitialBackoff and MaxBackoff bound the retry delays; the defaults
	// when 0.
	InitialBackoff, MaxBackoff time.Duration
	// MaxAttempts stops after that many attempts (0: until ctx is done).
	MaxAttempts int
	// Logger receives progress and retries; discarded when nil.
	Logger *slog.Logger
}

// Status says what Claim did.
type Status string

// Outcomes of Claim.
const (
	// StatusClaimed: this run claimed and installed the enrollment.
	StatusClaimed Status = "claimed"
	// StatusAlreadyEnrolled: the laptop was enrolled before; nothing was
	// sent (a leftover token file was deleted).
	StatusAlreadyEnrolled Status = "already-enrolled"
)

// Result is what a claim produced.
type Result struct {
	Status   Status
	DeviceID string
	Tenant   string
	// Certificate is the installed device certificate (nil when already
	// enrolled).
	Certificate *x509.Certificate
	// WireGuardPublicKey is derived from the device key (empty when
	// already enrolled).
	WireGuardPublicKey string
	// Attempts is the number of requests made.
	Attempts int
	// Duration is from the start of Claim to the enrollment installed.
	Duration time.Duration
	Layout   paths.Layout
}

// Claim runs the OEM first-boot claim under o.Root until it succeeds, is
// refused for good (*RefusedError), the file is bad (ErrBadBootstrapFile),
// there is nothing to claim (ErrNoBootstrapFile), or ctx is done.
func Claim(ctx context.Context, o Options) (*Result, error) {
	o.defaults()
	start := o.Now()
	layout := paths.Under(o.Root)
	bootPath := BootstrapPath(layout)
	if rec, err := install.Read(layout); err == nil {
		// Installed before: a token file left by a crash after the
		// installation is spent; delete it.
		if err := removeToken(bootPath); err != nil {
			return nil, err
		}
		return &Result{Status: StatusAlreadyEnrolled, DeviceID: rec.DeviceID, Tenant: rec.Tenant, Layout: layout}, nil
	} else if !errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("claiming: %w", err)
	}
	data, err := os.ReadFile(bootPath)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("claiming: %w at %s", ErrNoBootstrapFile, bootPath)
	}
	if err != nil {
		return nil, fmt.Errorf("claiming: reading %s: %w", bootPath, err)
	}
	file, err := protocol.ParseBootstrapFile(data)
	if err != nil {
		return nil, fmt.Errorf("claiming: %w: %s: %w", ErrBadBootstrapFile, bootPath, err)
	}
	hw, err := o.Hardware(ctx)
	if err != nil {
		return nil, fmt.Errorf("claiming: reading the hardware identity: %w", err)
	}
	serial := hw.Serial()
	if serial == "" {
		return nil, errors.New("claiming: the hardware serial number could not be read (run as root; on Windows it is not read yet)")
	}
	ident, err := install.NewIdentity(o.Rand, file.Tenant)
	if err != nil {
		return nil, fmt.Errorf("claiming: %w", err)
	}
	key, deviceID, wg := ident.Key, ident.DeviceID, ident.WireGuard
	req := protocol.ClaimRequest{Token: file.Token, HardwareSerial: serial, HardwareFingerprint: hw.Value,
		CSR: ident.CSR, WireGuardPublicKey: wg.PublicKey}

	resp, attempts, err := o.send(ctx, file, req)
	if err != nil {
		return nil, err
	}
	leaf, chain, root, err := install.Check(resp, file.Tenant, file.RootFingerprint, deviceID, key, o.Now())
	if err != nil {
		return nil, &RefusedError{Reason: ReasonBadAnswer, Message: err.Error()}
	}
	if err := install.Write(layout, key, leaf, chain, root, resp.Config); err != nil {
		return nil, fmt.Errorf("claiming: the certificate was issued but not installed: %w", err)
	}
	if err := removeToken(bootPath); err != nil {
		return nil, err
	}
	res := &Result{Status: StatusClaimed, DeviceID: deviceID, Tenant: file.Tenant, Certificate: leaf,
		WireGuardPublicKey: wg.PublicKey, Attempts: attempts, Duration: o.Now().Sub(start), Layout: layout}
	o.Logger.Info("claimed", "device", deviceID, "tenant", file.Tenant, "serial", leaf.SerialNumber.String(),
		"attempts", attempts, "duration", res.Duration)
	return res, nil
}

// send claims until the API answers, retrying transient failures with
// backoff; it returns the answer and the number of attempts.
func (o *Options) send(ctx context.Context, file *protocol.BootstrapFile, req protocol.ClaimRequest) (*protocol.EnrollResponse, int, error) {
	delay := o.InitialBackoff
	for attempt := 1; ; attempt++ {
		resp, answered, err := o.attempt(ctx, file, req)
		if err == nil {
			return resp, attempt, nil
		}
		// Only the claim's own answer can refuse for good: whatever stands
		// between the laptop and the API (a captive portal, a proxy) may
		// answer the root fetch with anything.
		var ae *apiclient.Error
		if answered && errors.As(err, &ae) && definitive(ae.Status) {
			return nil, attempt, &RefusedError{Reason: ae.Reason, Status: ae.Status, Message: ae.Message}
		}
		if ctx.Err() != nil {
			return nil, attempt, fmt.Errorf("claiming: %w (last error: %w)", ctx.Err(), err)
		}
		if o.MaxAttempts > 0 && attempt >= o.MaxAttempts {
			return nil, attempt, fmt.Errorf("claiming: giving up after %d attempts: %w", attempt, err)
		}
		wait := o.jitter(delay)
		o.Logger.Warn("claim failed; retrying", "attempt", attempt, "retry_in", wait, "err", err)
		if err := o.Sleep(ctx, wait); err != nil {
			return nil, attempt, fmt.Errorf("claiming: %w", err)
		}
		delay = min(2*delay, o.MaxBackoff)
	}
}

// attempt dials and claims once; answered is set once the pinned API was
// reached.
func (o *Options) attempt(ctx context.Context, file *protocol.BootstrapFile, req protocol.ClaimRequest) (resp *protocol.EnrollResponse, answered bool, err error) {
	api, err := o.Dial(ctx, file.API, file.RootFingerprint)
	if err != nil {
		return nil, false, err
	}
	resp, err = api.Claim(ctx, req)
	return resp, true, err
}

// definitive reports whether an API status ends the claim: a 4xx other
// than timeouts and rate limits. 5xx (the CA or store down) is retried.
func definitive(status int) bool {
	return status >= 400 && status < 500 && status != http.StatusRequestTimeout && status != http.StatusTooManyRequests
}

// jitter returns d/2 plus a random part of up to d/2, so that a fleet
// booting at once spreads out.
func (o *Options) jitter(d time.Duration) time.Duration {
	half := d / 2
	if half <= 0 {
		return d
	}
	n, err := rand.Int(o.Rand, big.NewInt(int64(half)))
	if err != nil {
		return d
	}
	return half + time.Duration(n.Int64())
}

// removeToken deletes the spent token file; a missing one is fine.
func removeToken(path string) error {
	if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("claiming: deleting the spent token file %s: %w", path, err)
	}
	return nil
}

// defaults fills in o's zero fields.
func (o *Options) defaults() {
	if o.Hardware == nil {
		o.Hardware = hwid.Read
	}
	if o.Dial == nil {
		o.Dial = defaultDial
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Sleep == nil {
		o.Sleep = sleep
	}
	if o.Rand == nil {
		o.Rand = rand.Reader
	}
	if o.InitialBackoff <= 0 {
		o.InitialBackoff = DefaultInitialBackoff
	}
	if o.MaxBackoff <= 0 {
		o.MaxBackoff = DefaultMaxBackoff
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
}

// defaultDial reaches the tenant API pinned to the root fingerprint.
func defaultDial(ctx context.Context, apiURL, fp string) (API, error) {
	return apiclient.Dial(ctx, apiURL, fp, apiclient.WithTimeout(30*time.Second))
}

// sleep waits d or until ctx is done.
func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
