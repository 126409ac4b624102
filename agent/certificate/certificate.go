// Package certificate is the agent's certificate controller: it loads the
// device key, certificate and tenant root the enroller installed, and keeps
// the certificate renewed through agent/renew (whose Scheduler, Client and
// Renewer do the work: renewal at about two thirds of the lifetime with
// jitter, by wall-clock deadline, backoff with a cap, renewal after expiry
// within the grace window, atomic replacement). It adds what the daemon
// needs around them: reloading after a re-enrollment, status with warnings
// about the tenant's issuing certificates, and rate-limited load errors.
//
// It never deletes or replaces an identity on an error, and never enrolls.
package certificate

import (
	"context"
	"crypto"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"sync"
	"time"

	"github.com/kiwistack/endpoint/agent/enrollment"
	"github.com/kiwistack/endpoint/agent/renew"
	"github.com/kiwistack/endpoint/agent/status"
)

// DefaultGrace is how long after expiry step-ca still renews a certificate
// that was not revoked (server/ca's default renewal grace).
const DefaultGrace = 7 * 24 * time.Hour

// CAWarning is how long before the end of the tenant intermediate or root
// status warns about it.
const CAWarning = 30 * 24 * time.Hour

// loadRetry bounds the delay between attempts to load damaged or missing
// files.
const loadRetryMin, loadRetryMax = 30 * time.Second, 30 * time.Minute

// Options configure a Controller.
type Options struct {
	// Policy is the renewal policy; a zero Grace is DefaultGrace.
	Policy renew.Policy
	// Now is the wall clock; nil is time.Now.
	Now func() time.Time
	// Logger; nil discards.
	Logger *slog.Logger
	// ClientOptions are passed to renew.NewClient (tests pass
	// WithServerRoots).
	ClientOptions []renew.ClientOption
	// OnChange, if set, is called after a Reconcile that changed the
	// certificate's serial or state (a renewal, a refusal as revoked), so
	// that the daemon can let the other controllers (the tunnel) follow.
	OnChange func()
}

// Controller keeps the device certificate renewed.
type Controller struct {
	o      Options
	record func() *enrollment.Record
	log    *slog.Logger

	mu      sync.Mutex
	renewer *renew.Renewer
	client  *renew.Client
	loaded  *enrollment.Record
	// reissueAt is when a refused renewal may next be followed by a
	// reissue request (after a rotate_intermediate).
	reissueAt   time.Time
	serial      string // the serial of the chain the renewer holds
	chain       []*x509.Certificate
	loadErr     error
	loadFails   int
	lastRenewal time.Time
}

// New returns a controller for the enrollment record returns (nil when
// not enrolled).
func New(record func() *enrollment.Record, o Options) *Controller {
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Policy.Grace == 0 {
		o.Policy.Grace = DefaultGrace
	}
	log := o.Logger
	if log == nil {
		log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	return &Controller{o: o, record: record, log: log}
}

// Name is "certificate".
func (c *Controller) Name() string { return "certificate" }

// Reconcile loads the installed identity if it is new (first run, or a
// re-enrollment replaced it), then renews if renewal is due, and returns the
// next wall-clock deadline (zero when not enrolled or renewal has stopped).
func (c *Controller) Reconcile(ctx context.Context) (time.Time, error) {
	rec := c.record()
	if rec == nil {
		c.mu.Lock()
		c.renewer, c.loaded, c.loadErr, c.chain, c.serial = nil, nil, nil, nil, ""
		c.mu.Unlock()
		return time.Time{}, nil
	}
	if err := c.load(rec); err != nil {
		c.mu.Lock()
		defer c.mu.Unlock()
		c.loadFails++
		d := loadRetryMin << min(c.loadFails-1, 10)
		if c.loadFails == 1 {
			c.log.Error("cannot load the device identity; the files stay as they are", "err", err)
		}
		return c.o.Now().Add(min(d, loadRetryMax)), err
	}
	c.mu.Lock()
	r := c.renewer
	before, beforeState := c.serial, r.Status().State
	c.mu.Unlock()
	next, err := r.Step(ctx)
	if r.Status().State == renew.StateRefused {
		if reissued, rerr := c.reissue(ctx, rec); reissued {
			next, err = c.o.Now(), nil
		} else if rerr != nil {
			c.log.Warn("renewal refused and no new certificate from the tenant API", "err", rerr)
		}
	}
	c.mu.Lock()
	changed := c.serial != before || r.Status().State != beforeState || c.renewer != r
	c.mu.Unlock()
	if changed && c.o.OnChange != nil {
		c.o.OnChange()
	}
	return next, err
}

// Revoked reports whether step-ca refused a renewal because the
// certificate is revoked.
func (c *Controller) Revoked() bool {
	c.mu.Lock()
	r := c.renewer
	c.mu.Unlock()
	return r != nil && r.Status().State == renew.StateRevoked
}

// load (re)builds the renewer when the enrollment or the stored chain
// changed under it. A renewal the renewer wrote itself is not a change.
func (c *Controller) load(rec *enrollment.Record) error {
	onDisk, err := os.ReadFile(rec.Certificate)
	if err != nil {
		return c.failLoad(fmt.Errorf("reading the device certificate: %w", err))
	}
	leaf, err := firstCert(onDisk)
	if err != nil {
		return c.failLoad(fmt.Errorf("reading %s: %w", rec.Certificate, err))
	}
	c.mu.Lock()
	same := c.renewer != nil && c.loaded != nil && *c.loaded == *rec && c.serial == leaf.SerialNumber.String()
	c.mu.Unlock()
	if same {
		return nil
	}
	key, err := readKey(rec.Key)
	if err != nil {
		return c.failLoad(err)
	}
	cert, err := renew.LoadCertificate(rec.Certificate, key)
	if err != nil {
		return c.failLoad(err)
	}
	rootPEM, err := os.ReadFile(rec.Root)
	if err != nil {
		return c.failLoad(fmt.Errorf("reading the tenant root: %w", err))
	}
	root, err := firstCert(rootPEM)
	if err != nil {
		return c.failLoad(fmt.Errorf("reading %s: %w", rec.Root, err))
	}
	client, err := renew.NewClient(rec.CAURL, root, rec.RootFingerprint, c.o.ClientOptions...)
	if err != nil {
		return c.failLoad(err)
	}
	r, err := renew.NewRenewer(renew.Config{
		Client: client, CertPath: rec.Certificate, Policy: c.o.Policy, Logger: c.log, Now: c.o.Now,
		OnRenew: c.renewed,
	}, cert)
	if err != nil {
		return c.failLoad(err)
	}
	chain := []*x509.Certificate{cert.Leaf}
	for _, der := range cert.Certificate[1:] {
		if x, err := x509.ParseCertificate(der); err == nil && !x.Equal(root) {
			chain = append(chain, x)
		}
	}
	chain = append(chain, root)
	c.mu.Lock()
	defer c.mu.Unlock()
	recCopy := *rec
	c.renewer, c.client, c.loaded, c.serial, c.chain, c.loadErr, c.loadFails = r, client, &recCopy, cert.Leaf.SerialNumber.String(), chain, nil, 0
	c.log.Info("device certificate loaded", "serial", c.serial, "not_after", cert.Leaf.NotAfter)
	return nil
}

// reissueRetry is the pause between reissue requests that failed.
const reissueRetry = 5 * time.Minute

// reissue follows a refused renewal: step-ca refuses to renew a certificate
// of a retired intermediate, and the tenant API then issues one from the
// current intermediate for the same key (renew.Client.Reissue), proven by
// the registry rather than the old chain. The new chain is written like a
// renewal's and loaded; reissued is false when the API refused too (a
// revoked or replaced device), which leaves the refusal standing.
func (c *Controller) reissue(ctx context.Context, rec *enrollment.Record) (bool, error) {
	if rec.APIURL == "" {
		return false, nil
	}
	c.mu.Lock()
	r, client, wait := c.renewer, c.client, c.reissueAt
	c.mu.Unlock()
	now := c.o.Now()
	if client == nil || now.Before(wait) {
		return false, nil
	}
	cert, err := client.Reissue(ctx, rec.APIURL, r.Certificate(), now)
	if err != nil {
		c.mu.Lock()
		c.reissueAt = now.Add(reissueRetry)
		c.mu.Unlock()
		return false, err
	}
	if err := renew.WriteChain(rec.Certificate, cert); err != nil {
		return false, err
	}
	c.log.Info("device certificate reissued by the tenant API under its current intermediate",
		"serial", cert.Leaf.SerialNumber.String(), "issuer", cert.Leaf.Issuer.String(), "not_after", cert.Leaf.NotAfter)
	if err := c.load(rec); err != nil {
		return false, err
	}
	c.mu.Lock()
	c.lastRenewal, c.reissueAt = now, time.Time{}
	c.mu.Unlock()
	return true, nil
}

// renewed is the renewer's OnRenew: it remembers the new serial so that
// load does not take the renewer's own write for a re-enrollment. It runs
// inside Step, without c.mu held.
func (c *Controller) renewed(cert tls.Certificate) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.serial = cert.Leaf.SerialNumber.String()
	c.chain = append([]*x509.Certificate{cert.Leaf}, c.chain[1:]...)
	c.lastRenewal = c.o.Now()
}

func (c *Controller) failLoad(err error) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.loadErr = err
	// A renewer already running keeps the identity it holds: a damaged
	// file on disk does not take a working certificate away.
	return err
}

// Status returns the certificate's status, nil when not enrolled.
func (c *Controller) Status() *status.Certificate {
	c.mu.Lock()
	r, loadErr, chain, last := c.renewer, c.loadErr, c.chain, c.lastRenewal
	c.mu.Unlock()
	if r == nil {
		if loadErr == nil {
			return nil
		}
		return &status.Certificate{State: "error", LastError: loadErr.Error()}
	}
	st := r.Status()
	now := c.o.Now()
	out := &status.Certificate{
		State: st.State.String(), Serial: r.Certificate().Leaf.SerialNumber.String(),
		NotAfter: st.NotAfter, NextRenewal: st.Next, LastRenewal: last,
		Failures: st.Failures, LastError: st.LastError,
		ReEnroll: st.State == renew.StateReEnroll || st.State == renew.StateRevoked || st.State == renew.StateRefused,
		Warnings: Warnings(chain[1:], now),
	}
	if loadErr != nil && out.LastError == "" {
		out.LastError = loadErr.Error()
	}
	return out
}

// State summarises Status for the controller list.
func (c *Controller) State() (string, string) {
	s := c.Status()
	switch {
	case s == nil:
		return "idle", "not enrolled"
	case s.ReEnroll:
		return s.State, "re-enroll this laptop with a YubiKey: kiwistack-enroll enroll --reenroll"
	case s.State == "error":
		return s.State, "the installed device certificate cannot be loaded"
	}
	return s.State, fmt.Sprintf("next renewal %s", s.NextRenewal.Format(time.RFC3339))
}

// Warnings names each issuing certificate in chain that ends within
// CAWarning of now (or has ended).
func Warnings(chain []*x509.Certificate, now time.Time) []string {
	var out []string
	for _, x := range chain {
		left := x.NotAfter.Sub(now)
		if left > CAWarning {
			continue
		}
		kind := "intermediate"
		if x.IsCA && x.Subject.String() == x.Issuer.String() {
			kind = "root"
		}
		if left <= 0 {
			out = append(out, fmt.Sprintf("tenant %s %q expired on %s: devices cannot renew; the tenant must rotate it", kind, x.Subject.CommonName, x.NotAfter.Format(time.DateOnly)))
			continue
		}
		out = append(out, fmt.Sprintf("tenant %s %q expires on %s (in %d days): the tenant must rotate it", kind, x.Subject.CommonName, x.NotAfter.Format(time.DateOnly), int(left.Hours()/24)))
	}
	return out
}

func firstCert(data []byte) (*x509.Certificate, error) {
	b, _ := pem.Decode(data)
	if b == nil || b.Type != "CERTIFICATE" {
		return nil, errors.New("no PEM certificate")
	}
	return x509.ParseCertificate(b.Bytes)
}

func readKey(path string) (crypto.Signer, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading the device key: %w", err)
	}
	b, _ := pem.Decode(data)
	if b == nil || b.Type != "PRIVATE KEY" {
		return nil, fmt.Errorf("reading the device key %s: no PKCS #8 PEM key", path)
	}
	k, err := x509.ParsePKCS8PrivateKey(b.Bytes)
	if err != nil {
		return nil, fmt.Errorf("reading the device key %s: %w", path, err)
	}
	s, ok := k.(crypto.Signer)
	if !ok {
		return nil, fmt.Errorf("reading the device key %s: not a signing key", path)
	}
	return s, nil
}
