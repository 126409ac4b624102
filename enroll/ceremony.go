package enroll

import (
	"context"
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/url"
	"strings"
	"time"
	"unicode"

	"github.com/kiwistack/endpoint/enroll/enrolljson"
	"github.com/kiwistack/endpoint/enroll/install"
	"github.com/kiwistack/endpoint/enroll/protocol"
	"github.com/kiwistack/endpoint/enroll/yubikey"
	"github.com/kiwistack/endpoint/platform/localsock"
	"github.com/kiwistack/endpoint/platform/paths"
)

// API is the tenant API as the ceremony uses it; enroll/apiclient.Client
// implements it over HTTPS pinned to the tenant root.
type API interface {
	// Challenge asks for a challenge for one operation instance.
	Challenge(ctx context.Context, req protocol.ChallengeRequest) (*protocol.Challenge, error)
	// Enroll sends the signed statement and the CSR.
	Enroll(ctx context.Context, req protocol.EnrollRequest) (*protocol.EnrollResponse, error)
}

// Enroller runs the enrollment ceremony (`kiwistack-enroll enroll`).
type Enroller struct {
	// Client finds and opens the YubiKey.
	Client *yubikey.Client
	// UI asks for the PIN and the touch.
	UI yubikey.UI
	// Progress receives the steps as a person reads them.
	Progress io.Writer
	// Fingerprint reads this laptop's hardware fingerprint (platform/hwid).
	Fingerprint func(ctx context.Context) (string, error)
	// Dial connects to the tenant API at apiURL, trusting only the root
	// whose SHA-256 is rootFingerprint.
	Dial func(ctx context.Context, apiURL, rootFingerprint string) (API, error)
	// Now is the clock; time.Now when nil.
	Now func() time.Time
	// Rand is the source of the device key; crypto/rand when nil.
	Rand io.Reader
}

// EnrollOptions are the flags of `kiwistack-enroll enroll`.
type EnrollOptions struct {
	// APIURL is the tenant API's base URL (https).
	APIURL string
	// Tenant is the tenant slug.
	Tenant string
	// RootFingerprint is the SHA-256 of the tenant root (64 hex digits).
	RootFingerprint string
	// Serial picks the YubiKey when several are inserted (0: ask).
	Serial uint32
	// Root prefixes every path written ("" is the real root).
	Root string
	// HardwareFingerprint overrides the computed fingerprint (machines
	// where none can be read, such as containers).
	HardwareFingerprint string
	// Reenroll replaces an existing enrollment on this laptop; the API
	// must have been told to allow it.
	Reenroll bool
}

// The seven steps of seed D3, in order.
var stepTitles = [...]string{
	"Insert YubiKey",
	"Run kiwistack-enroll",
	"Enter PIN",
	"Touch, sign attestation",
	"Fleet validates",
	"smallstep issues cert",
	"Tunnel up, agent up",
}

// Step is one of the seven steps as it ran.
type Step struct {
	Number   int
	Title    string
	Detail   string
	Duration time.Duration
}

// Result is what an enrollment produced.
type Result struct {
	DeviceID           string
	Tenant             string
	Certificate        *x509.Certificate
	Chain              []*x509.Certificate
	Root               *x509.Certificate
	WireGuardPublicKey string
	Layout             paths.Layout
	Steps              []Step
	Total              time.Duration
}

// progress times and prints the steps.
type progress struct {
	out   io.Writer
	now   func() time.Time
	start time.Time
	cur   time.Time
	steps []Step
}

func (p *progress) begin(n int) {
	p.cur = p.now()
	fmt.Fprintf(p.out, "[%d/7] %s\n", n, stepTitles[n-1])
}

func (p *progress) detail(format string, a ...any) {
	fmt.Fprintf(p.out, "      "+format+"\n", a...)
}

func (p *progress) end(n int, detail string) {
	d := p.now().Sub(p.cur)
	p.steps = append(p.steps, Step{Number: n, Title: stepTitles[n-1], Detail: detail, Duration: d})
	fmt.Fprintf(p.out, "      ✓ %s (%s)\n", detail, roundDuration(d))
}

func roundDuration(d time.Duration) time.Duration {
	switch {
	case d >= time.Second:
		return d.Round(10 * time.Millisecond)
	case d >= time.Millisecond:
		return d.Round(100 * time.Microsecond)
	}
	return d
}

// CheckEnrollOptions validates o before anything is touched; errors say
// which flag is wrong and what it wants.
func CheckEnrollOptions(o EnrollOptions) error {
	u, err := url.Parse(o.APIURL)
	switch {
	case o.APIURL == "":
		return errors.New("--api is required: the tenant API's URL, e.g. https://enroll.acme-corp.example")
	case err != nil || u.Scheme != "https" || u.Host == "" || u.User != nil || u.RawQuery != "" || u.Fragment != "":
		return fmt.Errorf("--api %q: want an https URL with a host and no credentials, query or fragment", o.APIURL)
	}
	if err := yubikey.ValidateSubject("x", "x", o.Tenant); err != nil {
		return fmt.Errorf("--tenant: %w", err)
	}
	if b, err := hex.DecodeString(o.RootFingerprint); err != nil || len(b) != sha256.Size {
		return fmt.Errorf("--root-fingerprint %q: want the tenant root's SHA-256 as 64 hex digits (kiwistack-api dev prints it)", o.RootFingerprint)
	}
	if o.HardwareFingerprint != "" {
		if err := checkFingerprintOverride(o.HardwareFingerprint); err != nil {
			return err
		}
	}
	return nil
}

func checkFingerprintOverride(fp string) error {
	if len(fp) < 16 || len(fp) > 256 {
		return fmt.Errorf("--hardware-fingerprint: want 16-256 characters, have %d", len(fp))
	}
	for _, r := range fp {
		if r > unicode.MaxASCII || !unicode.IsPrint(r) || r == ' ' {
			return errors.New("--hardware-fingerprint: printable ASCII without spaces only")
		}
	}
	return nil
}

// Enroll runs the seven steps of seed D3 and installs the device
// certificate, its key and the tenant root under o.Root. Nothing is written
// until the API has answered and the answer has been checked; a failure
// before that leaves the laptop as it was.
func (e Enroller) Enroll(ctx context.Context, o EnrollOptions) (*Result, error) {
	if err := CheckEnrollOptions(o); err != nil {
		return nil, err
	}
	o.RootFingerprint = strings.ToLower(o.RootFingerprint)
	if e.Now == nil {
		e.Now = time.Now
	}
	if e.Rand == nil {
		e.Rand = rand.Reader
	}
	if e.Progress == nil {
		e.Progress = io.Discard
	}
	layout := paths.Under(o.Root)
	if err := checkNotEnrolled(layout, o.Reenroll); err != nil {
		return nil, err
	}
	p := &progress{out: e.Progress, now: e.Now}
	p.start = e.Now()
	fmt.Fprintf(e.Progress, "Enrolling this laptop into %s through %s\n\n", o.Tenant, o.APIURL)

	// 01 Insert YubiKey.
	p.begin(1)
	key, err := e.Client.Open(ctx, o.Serial, e.UI)
	if err != nil {
		return nil, err
	}
	defer key.Close()
	info := key.Info()
	signerCert, err := key.Certificate()
	if err != nil {
		return nil, err
	}
	if err := checkSignerCert(signerCert, o.Tenant, e.Now()); err != nil {
		return nil, fmt.Errorf("YubiKey %d: %w", info.Serial, err)
	}
	p.end(1, fmt.Sprintf("YubiKey %d (firmware %s): %s, %s of %s", info.Serial, info.Firmware,
		signerCert.Subject.CommonName, firstOr(signerCert.Subject.OrganizationalUnit), o.Tenant))

	// 02 Run kiwistack-enroll: this laptop's identity, the device key and
	// the challenge.
	p.begin(2)
	hw := o.HardwareFingerprint
	if hw == "" {
		if hw, err = e.Fingerprint(ctx); err != nil {
			return nil, fmt.Errorf("reading this laptop's hardware fingerprint: %w", err)
		}
	}
	ident, err := install.NewIdentity(e.Rand, o.Tenant)
	if err != nil {
		return nil, err
	}
	deviceKey, keyHash, deviceID, wg := ident.Key, ident.KeySHA256, ident.DeviceID, ident.WireGuard
	api, err := e.Dial(ctx, o.APIURL, o.RootFingerprint)
	if err != nil {
		return nil, err
	}
	ch, err := api.Challenge(ctx, protocol.ChallengeRequest{
		Operation: protocol.OpEnrollDevice, Tenant: o.Tenant,
		Params: map[string]string{
			protocol.ParamHardwareFingerprint: hw,
			protocol.ParamDeviceKeySHA256:     keyHash,
			protocol.ParamWireGuardPublicKey:  wg.PublicKey,
		},
	})
	if err != nil {
		return nil, fmt.Errorf("asking the API for a challenge: %w", err)
	}
	stmt := &protocol.Statement{
		Operation: protocol.OpEnrollDevice, Tenant: o.Tenant, YubiKeySerial: info.Serial,
		Nonce: ch.Nonce, Digest: ch.Digest, HardwareFingerprint: hw, DeviceKeySHA256: keyHash,
		WireGuardPublicKey: wg.PublicKey,
	}
	if want, err := stmt.CanonicalOperation().Digest(); err != nil || subtle.ConstantTimeCompare([]byte(want), []byte(ch.Digest)) != 1 || ch.Tenant != o.Tenant || ch.Operation != protocol.OpEnrollDevice {
		return nil, errors.New("the API's challenge is not for this enrollment (digest, tenant or operation differ); check --api and --tenant, and report it if they are right")
	}
	p.detail("This YubiKey will sign: enroll_device in tenant %s", o.Tenant)
	p.detail("  hardware fingerprint  %s", hw)
	p.detail("  device key SHA-256    %s (P-256, new)", keyHash)
	p.detail("  WireGuard public key  %s", wg.PublicKey)
	p.detail("  device id             %s", deviceID)
	p.detail("  challenge expires     %s", ch.ExpiresAt)
	p.end(2, "device key and CSR made, challenge received")

	// 03 Enter PIN.
	p.begin(3)
	purpose := "enroll this laptop into " + o.Tenant
	if err := key.VerifyPIN(ctx, e.UI, purpose); err != nil {
		return nil, err
	}
	p.end(3, "PIN verified")

	// 04 Touch, sign attestation.
	p.begin(4)
	compact, err := SignStatement(ctx, key, e.UI, signerCert, stmt, purpose, e.Now())
	if err != nil {
		return nil, fmt.Errorf("signing the enrollment statement: %w", err)
	}
	p.end(4, fmt.Sprintf("statement signed by slot 9a of YubiKey %d (ES256, %d bytes)", info.Serial, len(compact)))

	// 05 Fleet validates.
	p.begin(5)
	resp, err := api.Enroll(ctx, protocol.EnrollRequest{
		Statement: compact,
		CSR:       ident.CSR,
	})
	if err != nil {
		return nil, fmt.Errorf("enrolling: %w", err)
	}
	p.end(5, "the tenant API accepted the statement: device "+resp.DeviceID)

	// 06 smallstep issues cert.
	p.begin(6)
	leaf, chain, root, err := checkResponse(resp, o, deviceID, deviceKey, e.Now())
	if err != nil {
		return nil, err
	}
	if err := Install(layout, deviceKey, leaf, chain, root, resp.Config); err != nil {
		return nil, err
	}
	p.detail("certificate  %s", layout.DeviceCert())
	p.detail("key          %s (0600)", layout.DeviceKey())
	p.detail("tenant root  %s", layout.RootCert())
	p.end(6, fmt.Sprintf("certificate %s issued by %s, valid until %s", leaf.SerialNumber, leaf.Issuer.CommonName,
		leaf.NotAfter.UTC().Format(time.RFC3339)))

	// 07 Tunnel up, agent up.
	p.begin(7)
	p.detail("WireGuard public key  %s (derived from the device key)", wg.PublicKey)
	p.detail("agent configuration   %s", layout.Enrollment())
	p.end(7, "WireGuard key derived and the agent's configuration written; "+pokeAgent(ctx, localsock.DefaultPath(o.Root)))

	res := &Result{
		DeviceID: resp.DeviceID, Tenant: o.Tenant, Certificate: leaf, Chain: chain, Root: root,
		WireGuardPublicKey: wg.PublicKey, Layout: layout, Steps: p.steps, Total: e.Now().Sub(p.start),
	}
	fmt.Fprintf(e.Progress, "\nEnrolled %s into %s in %s: %s, serial %s, issued by %s, expires %s.\n",
		res.DeviceID, o.Tenant, roundDuration(res.Total), leaf.Subject, leaf.SerialNumber, leaf.Issuer.CommonName,
		leaf.NotAfter.UTC().Format(time.RFC3339))
	return res, nil
}

func millis(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// JSON returns the --json form of r.
func (r *Result) JSON() enrolljson.Result {
	out := enrolljson.Result{
		Schema: enrolljson.Schema, DeviceID: r.DeviceID, Tenant: r.Tenant, WireGuardPublicKey: r.WireGuardPublicKey,
		Certificate: enrolljson.Certificate{
			Subject: r.Certificate.Subject.String(), Serial: r.Certificate.SerialNumber.String(),
			Issuer:    r.Certificate.Issuer.String(),
			NotBefore: r.Certificate.NotBefore.UTC().Format(time.RFC3339),
			NotAfter:  r.Certificate.NotAfter.UTC().Format(time.RFC3339),
		},
		Files: enrolljson.Files{Certificate: r.Layout.DeviceCert(), Key: r.Layout.DeviceKey(), Root: r.Layout.RootCert(),
			StepConfig: r.Layout.StepDefaults(), Enrollment: r.Layout.Enrollment()},
		TotalMillis: millis(r.Total),
	}
	for _, s := range r.Steps {
		out.Steps = append(out.Steps, enrolljson.Step{Number: s.Number, Title: s.Title, Detail: s.Detail, Millis: millis(s.Duration)})
	}
	return out
}

func firstOr(s []string) string {
	if len(s) == 0 {
		return "(no role)"
	}
	return s[0]
}

// checkSignerCert catches, before the PIN is asked, the mistakes the API
// would refuse: a key of another tenant, or an expired certificate.
func checkSignerCert(c *x509.Certificate, tenant string, now time.Time) error {
	if o := c.Subject.Organization; len(o) != 1 || o[0] != tenant {
		return fmt.Errorf("its slot 9a certificate is for organization %q, not tenant %s; use a YubiKey provisioned for %s", strings.Join(o, ","), tenant, tenant)
	}
	if now.After(c.NotAfter) {
		return fmt.Errorf("its slot 9a certificate expired on %s; have it provisioned again (kiwistack-enroll keys provision)", c.NotAfter.UTC().Format(time.DateOnly))
	}
	return nil
}

// checkResponse is CheckResponse with the tenant and pinned root of o.
func checkResponse(resp *protocol.EnrollResponse, o EnrollOptions, deviceID string, key *ecdsa.PrivateKey, now time.Time) (leaf *x509.Certificate, chain []*x509.Certificate, root *x509.Certificate, err error) {
	return CheckResponse(resp, o.Tenant, o.RootFingerprint, deviceID, key, now)
}

// CheckResponse checks everything the laptop can about the API's answer to
// an enrollment or a claim (install.Check).
func CheckResponse(resp *protocol.EnrollResponse, tenant, rootFingerprint, deviceID string, key *ecdsa.PrivateKey, now time.Time) (leaf *x509.Certificate, chain []*x509.Certificate, root *x509.Certificate, err error) {
	return install.Check(resp, tenant, rootFingerprint, deviceID, key, now)
}
