package claim

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"sync"
	"time"

	"github.com/kiwistack/endpoint/enroll/install"
	"github.com/kiwistack/endpoint/platform/paths"
)

// Controller runs the OEM claim inside the agent's reconcile loop: while
// the laptop is not enrolled and the bootstrap file exists it makes one
// claim attempt per pass, backing off between failures with the claim's
// own delays, and calls Claimed after a claim installed the enrollment so
// that the daemon reconciles again at once. A definitive refusal or a bad
// file stops it until the file changes.
type Controller struct {
	o       Options
	claimed func()

	mu      sync.Mutex
	state   string
	msg     string
	delay   time.Duration
	stopped time.Time // the bootstrap file's mtime when it stopped
}

// NewController returns the claim controller for o (o.MaxAttempts and
// o.Sleep are overridden: the loop does the waiting); claimed, if set, is
// called after a successful claim.
func NewController(o Options, claimed func()) *Controller {
	o.defaults()
	o.MaxAttempts = 1
	return &Controller{o: o, claimed: claimed, state: "idle", delay: o.InitialBackoff}
}

// Name is "claim".
func (c *Controller) Name() string { return "claim" }

// Reconcile claims once when there is something to claim.
func (c *Controller) Reconcile(ctx context.Context) (time.Time, error) {
	layout := paths.Under(c.o.Root)
	if _, err := install.Read(layout); err == nil {
		c.set("idle", "enrolled")
		if _, err := os.Stat(BootstrapPath(layout)); err == nil {
			// A crash after installing left the spent token: Claim removes it.
			_, _ = Claim(ctx, c.o)
		}
		return time.Time{}, nil
	}
	fi, err := os.Stat(BootstrapPath(layout))
	if errors.Is(err, fs.ErrNotExist) {
		c.set("idle", "no OEM bootstrap file")
		return time.Time{}, nil
	}
	if err != nil {
		c.set("error", err.Error())
		return time.Time{}, err
	}
	c.mu.Lock()
	stopped := !c.stopped.IsZero() && fi.ModTime().Equal(c.stopped)
	c.mu.Unlock()
	if stopped {
		return time.Time{}, nil
	}
	res, err := Claim(ctx, c.o)
	var refused *RefusedError
	switch {
	case err == nil:
		c.mu.Lock()
		c.state, c.msg, c.delay = "claimed", fmt.Sprintf("device %s of %s in %s", res.DeviceID, res.Tenant, res.Duration.Round(time.Millisecond)), c.o.InitialBackoff
		c.mu.Unlock()
		if c.claimed != nil {
			c.claimed()
		}
		return time.Time{}, nil
	case errors.As(err, &refused), errors.Is(err, ErrBadBootstrapFile):
		c.mu.Lock()
		c.state, c.msg, c.stopped = "refused", err.Error()+"; fix or replace "+BootstrapPath(layout), fi.ModTime()
		c.mu.Unlock()
		c.o.Logger.Error("OEM claim stopped", "err", err)
		return time.Time{}, err
	}
	c.mu.Lock()
	wait := c.o.jitter(c.delay)
	c.delay = min(2*c.delay, c.o.MaxBackoff)
	c.state, c.msg = "retrying", fmt.Sprintf("next attempt in %s", wait.Round(time.Second))
	c.mu.Unlock()
	return c.o.Now().Add(wait), err
}

// State is the claim's state.
func (c *Controller) State() (string, string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.state, c.msg
}

func (c *Controller) set(state, msg string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.state, c.msg = state, msg
}
