package appcert

import (
	"context"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sort"
	"sync"
	"time"

	"github.com/kiwistack/endpoint/agent/enrollment"
	"github.com/kiwistack/endpoint/agent/status"
	"github.com/kiwistack/endpoint/enroll/protocol"
)

// States of the controller, as status shows them.
const (
	StateIdle      = "idle"
	StateNoUsers   = "no users"
	StateInstalled = "installed"
	StateExpired   = "expired"
	StateRevoked   = "revoked"
	StateError     = "error"
)

// Timing defaults.
const (
	// DefaultCheckInterval is how often the controller asks the API
	// whether the device is still active, so that a revocation removes the
	// certificates within this long even before the device certificate's
	// next renewal.
	DefaultCheckInterval = 5 * time.Minute
	// retryMin and retryMax bound the delay after a failure.
	retryMin, retryMax = 30 * time.Second, 30 * time.Minute
)

// Options configure a Controller.
type Options struct {
	// Record returns the enrollment, nil when not enrolled (required).
	Record func() *enrollment.Record
	// Revoked reports whether the certificate controller learned that the
	// device certificate is revoked; nil means never.
	Revoked func() bool
	// Root is the filesystem root the desktop users are read under ("" is
	// /).
	Root string
	// Users returns the desktop users; the OS's own (the people's accounts
	// in /etc/passwd on Linux, /Users on macOS, the agent's own account on
	// Windows) when nil.
	Users func() ([]User, error)
	// Store returns the certificate store for device deviceID of tenant;
	// the OS's own when nil.
	Store func(tenant, deviceID string) Store
	// CheckInterval is how often the API is asked whether the device is
	// still active (DefaultCheckInterval when 0).
	CheckInterval time.Duration
	// Now is the wall clock; nil is time.Now.
	Now func() time.Time
	// Logger; nil discards.
	Logger *slog.Logger
}

// Controller keeps each desktop user's app certificate installed, renewed
// and, once the device is revoked, removed.
type Controller struct {
	o   Options
	log *slog.Logger

	mu         sync.Mutex
	state, msg string
	users      []status.AppCertificateUser
	revokedFor string // device id and certificate serial the API called inactive
	nextCheck  time.Time
	fails      int
}

// New returns a controller.
func New(o Options) *Controller {
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Revoked == nil {
		o.Revoked = func() bool { return false }
	}
	if o.Users == nil {
		root := o.Root
		o.Users = func() ([]User, error) { return localUsers(root) }
	}
	if o.Store == nil {
		o.Store = func(tenant, deviceID string) Store { return newStore(tenant, deviceID, nil) }
	}
	if o.CheckInterval <= 0 {
		o.CheckInterval = DefaultCheckInterval
	}
	log := o.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Controller{o: o, log: log, state: StateIdle, msg: "not enrolled"}
}

// Name is "appcert".
func (c *Controller) Name() string { return "appcert" }

// renewAt is when c is replaced: when a third of its life is left.
func renewAt(c *x509.Certificate) time.Time {
	return c.NotAfter.Add(-c.NotAfter.Sub(c.NotBefore) / 3)
}

// Reconcile installs, renews or removes the users' app certificates.
func (c *Controller) Reconcile(ctx context.Context) (time.Time, error) {
	rec := c.o.Record()
	if rec == nil {
		c.set(StateIdle, "not enrolled", nil)
		return time.Time{}, nil
	}
	now := c.o.Now()
	leaf, err := readLeaf(rec.Certificate)
	if err != nil {
		c.set(StateError, err.Error(), nil)
		return c.retry(now), err
	}
	identity := rec.DeviceID + "/" + leaf.SerialNumber.String()
	c.mu.Lock()
	if c.revokedFor != "" && c.revokedFor != identity {
		c.revokedFor = "" // re-enrolled
	}
	revoked, why := c.revokedFor != "", "the tenant API says this device is no longer active"
	check := !revoked && !now.Before(c.nextCheck)
	c.mu.Unlock()
	if c.o.Revoked() {
		revoked, why = true, "the device certificate is revoked"
	}
	users, err := c.o.Users()
	if err != nil {
		c.set(StateError, err.Error(), nil)
		return c.retry(now), fmt.Errorf("listing desktop users: %w", err)
	}
	if len(users) == 0 {
		c.set(StateNoUsers, "no desktop user to give an app certificate", nil)
		return time.Time{}, nil
	}
	var checkErr error
	if check {
		err := checkActive(ctx, rec)
		var ae *APIError
		switch {
		case errors.As(err, &ae) && ae.Inactive():
			revoked, why = true, "the tenant API says this device is no longer active: "+ae.Message
			c.mu.Lock()
			c.revokedFor = identity
			c.mu.Unlock()
		case err != nil:
			checkErr = fmt.Errorf("asking the api whether the device is active: %w", err)
			c.mu.Lock()
			c.nextCheck = now.Add(retryMin)
			c.mu.Unlock()
		default:
			c.mu.Lock()
			c.nextCheck = now.Add(c.o.CheckInterval)
			c.mu.Unlock()
		}
	}
	st := c.o.Store(rec.Tenant, rec.DeviceID)
	if revoked {
		return c.removeAll(ctx, st, users, why, now)
	}
	next := c.nextCheckTime()
	var out []status.AppCertificateUser
	var errs []error
	for _, u := range users {
		us, renew, err := c.reconcileUser(ctx, rec, st, u, now)
		if errors.Is(err, errInactive) {
			c.mu.Lock()
			c.revokedFor = identity
			c.mu.Unlock()
			return c.removeAll(ctx, st, users, "the tenant API says this device is no longer active", now)
		}
		if err != nil {
			errs = append(errs, err)
		}
		out = append(out, us)
		if !renew.IsZero() && (next.IsZero() || renew.Before(next)) {
			next = renew
		}
	}
	state, msg := summarize(out, now)
	c.set(state, msg, out)
	if err := errors.Join(append(errs, checkErr)...); err != nil {
		if r := c.retry(now); next.IsZero() || r.Before(next) {
			next = r
		}
		return next, err
	}
	c.mu.Lock()
	c.fails = 0
	c.mu.Unlock()
	return next, nil
}

// errInactive reports the API's device_inactive answer to a request.
var errInactive = errors.New("device inactive")

// reconcileUser brings u's certificate up to date and returns its status
// and when it is due for renewal.
func (c *Controller) reconcileUser(ctx context.Context, rec *enrollment.Record, st Store, u User, now time.Time) (status.AppCertificateUser, time.Time, error) {
	us := status.AppCertificateUser{User: u.Name, Store: st.Location(u)}
	cur, err := st.Installed(ctx, u)
	if err != nil {
		us.LastError = err.Error()
		return us, time.Time{}, err
	}
	if cur != nil && !hasURI(cur, appURI(rec.Tenant, rec.DeviceID)) {
		cur = nil // another device's (a re-enrollment): replaced below
	}
	if cur == nil || !now.Before(renewAt(cur)) {
		got, err := c.issue(ctx, rec, st, u)
		if errors.Is(err, errInactive) {
			return us, time.Time{}, err
		}
		if err != nil {
			us.LastError = err.Error()
			c.log.Warn("app certificate not renewed", "user", u.Name, "err", err)
		} else {
			c.log.Info("app certificate installed", "user", u.Name, "store", st.Location(u),
				"serial", got.SerialNumber.String(), "not_after", got.NotAfter)
			cur = got
		}
		if cur != nil {
			fillUser(&us, cur, now)
		}
		if err != nil {
			return us, time.Time{}, err // the retry decides when
		}
		return us, renewAt(cur), nil
	}
	fillUser(&us, cur, now)
	return us, renewAt(cur), nil
}

func fillUser(us *status.AppCertificateUser, cur *x509.Certificate, now time.Time) {
	us.Installed, us.Serial, us.NotAfter, us.Expired = true, cur.SerialNumber.String(), cur.NotAfter, !now.Before(cur.NotAfter)
}

// issue makes a key in u's store, has the API certify it and installs it.
func (c *Controller) issue(ctx context.Context, rec *enrollment.Record, st Store, u User) (*x509.Certificate, error) {
	csr, key, err := st.NewKey(ctx, u, protocol.AppCommonName(u.Name, rec.DeviceID))
	if err != nil {
		return nil, err
	}
	got, err := request(ctx, rec, u.Name, csr)
	if err == nil {
		err = st.Install(ctx, u, key, got.chain, got.root)
	}
	if err != nil {
		if derr := st.Discard(ctx, u, key); derr != nil {
			c.log.Warn("unused app key not deleted", "user", u.Name, "err", derr)
		}
		var ae *APIError
		if errors.As(err, &ae) && ae.Inactive() {
			return nil, errInactive
		}
		return nil, err
	}
	return got.chain[0], nil
}

// removeAll removes every user's app certificate after a revocation.
func (c *Controller) removeAll(ctx context.Context, st Store, users []User, why string, now time.Time) (time.Time, error) {
	var errs []error
	var out []status.AppCertificateUser
	for _, u := range users {
		us := status.AppCertificateUser{User: u.Name, Store: st.Location(u)}
		if err := st.Remove(ctx, u); err != nil {
			us.LastError, us.Installed = err.Error(), true
			errs = append(errs, err)
		}
		out = append(out, us)
	}
	c.log.Info("app certificates removed", "why", why, "users", len(users))
	c.set(StateRevoked, why+"; the app certificates were removed: re-enroll this laptop", out)
	if err := errors.Join(errs...); err != nil {
		return c.retry(now), err
	}
	return time.Time{}, nil
}

// summarize is the controller's state from its users'.
func summarize(us []status.AppCertificateUser, now time.Time) (string, string) {
	sort.Slice(us, func(i, j int) bool { return us[i].User < us[j].User })
	for _, u := range us {
		if u.Expired {
			return StateExpired, fmt.Sprintf("the app certificate of %s expired at %s: the tenant's apps refuse this browser until the agent gets a new one (%s)",
				u.User, u.NotAfter.UTC().Format(time.RFC3339), orNone(u.LastError))
		}
	}
	for _, u := range us {
		if u.LastError != "" {
			return StateError, fmt.Sprintf("%s: %s", u.User, u.LastError)
		}
	}
	var first time.Time
	for _, u := range us {
		if first.IsZero() || u.NotAfter.Before(first) {
			first = u.NotAfter
		}
	}
	return StateInstalled, fmt.Sprintf("%d user(s); the first certificate ends %s", len(us), first.UTC().Format(time.RFC3339))
}

func orNone(s string) string {
	if s == "" {
		return "no renewal attempted yet"
	}
	return s
}

func (c *Controller) nextCheckTime() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.nextCheck
}

// retry counts a failure and returns when to try again.
func (c *Controller) retry(now time.Time) time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.fails++
	return now.Add(min(retryMin<<min(c.fails-1, 10), retryMax))
}

func (c *Controller) set(state, msg string, users []status.AppCertificateUser) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.state, c.msg, c.users = state, msg, users
}

// State implements reconcile.Controller.
func (c *Controller) State() (string, string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.state, c.msg
}

// Status returns the app certificates' status.
func (c *Controller) Status() *status.AppCertificate {
	c.mu.Lock()
	defer c.mu.Unlock()
	return &status.AppCertificate{State: c.state, Message: c.msg, Users: append([]status.AppCertificateUser(nil), c.users...)}
}

// readLeaf reads the device certificate.
func readLeaf(path string) (*x509.Certificate, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading the device certificate: %w", err)
	}
	blk, _ := pem.Decode(b)
	if blk == nil {
		return nil, errors.New("reading the device certificate: no PEM block")
	}
	leaf, err := x509.ParseCertificate(blk.Bytes)
	if err != nil {
		return nil, fmt.Errorf("reading the device certificate: %w", err)
	}
	return leaf, nil
}
