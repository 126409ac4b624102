package command

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/kiwistack/endpoint/agent/enrollment"
	"github.com/kiwistack/endpoint/agent/status"
	"github.com/kiwistack/endpoint/enroll/protocol"
	"github.com/kiwistack/endpoint/internal/atomicfile"
)

// StateFile is the controller's state in the state directory: the
// commands it ran (their ids, for replay refusal) and whether the laptop
// is locked or wiped.
const StateFile = "commands.json"

// DefaultInterval is the time between two fetches of an idle agent: the
// reconcile loop's own safety-net wake-up (reconcile.DefaultMaxSleep), so
// that fetching costs no wake-up of its own. Every wake (resume from
// sleep, a renewal, a local trigger) fetches too: a lost laptop gets its
// command when it starts or resumes, and within an hour while it runs.
const DefaultInterval = time.Hour

// ClockSkew is how far in the future a command's issued_at may be.
const ClockSkew = 5 * time.Minute

// States of the controller, as status shows them.
const (
	StateNotEnrolled  = "not enrolled"
	StateNoCommandKey = "no command key"
	StateIdle         = "idle"
	StateLocked       = "locked"
	StateWiped        = "wiped"
	StateError        = "error"
)

// ErrReplay, ErrOtherDevice and ErrExpired are why a command with a good
// signature is refused.
var (
	ErrReplay      = errors.New("command already carried out")
	ErrOtherDevice = errors.New("command is for another device")
	ErrExpired     = errors.New("command is expired or not yet valid")
)

// Options configure a Controller.
type Options struct {
	// Record returns the enrollment, nil when not enrolled.
	Record func() *enrollment.Record
	// StateDir holds StateFile.
	StateDir string
	// Executor carries out commands (required; OSExecutor on a laptop).
	Executor Executor
	// API reaches the tenant API; HTTPAPI when nil.
	API API
	// Interval is the time between fetches (DefaultInterval when 0).
	Interval time.Duration
	// OnLock is called after a lock or wipe ran (the daemon triggers a
	// pass, so the tunnel goes down at once).
	OnLock func()
	// Now is the wall clock; time.Now when nil.
	Now func() time.Time
	// Logger; discarded when nil.
	Logger *slog.Logger
}

// Done is one command the controller carried out.
type Done struct {
	ID          string    `json:"id"`
	Kind        string    `json:"kind"`
	OperationID string    `json:"operation_id"`
	ExpiresAt   string    `json:"expires_at"`
	RanAt       time.Time `json:"ran_at"`
	Result      string    `json:"result"`
	Message     string    `json:"message,omitempty"`
	// Acked is set once the API recorded the result.
	Acked bool `json:"acked"`
}

// state is StateFile's content.
type state struct {
	// DeviceID is the device the commands were for: a re-enrollment (a
	// new device id) lifts the lock.
	DeviceID string `json:"device_id,omitempty"`
	// Locked is set by a lock or wipe: the tunnel stays down for as long
	// as the laptop is enrolled as DeviceID.
	Locked bool `json:"locked"`
	Wiped  bool `json:"wiped"`
	// Done is every command carried out, oldest first.
	Done []Done `json:"done"`
}

// Controller fetches, verifies, executes and acknowledges commands.
type Controller struct {
	o   Options
	log *slog.Logger

	mu      sync.Mutex
	st      state
	loaded  bool
	state   string
	msg     string
	refused map[string]bool // refused payloads, logged once
}

// New returns the controller.
func New(o Options) *Controller {
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Interval <= 0 {
		o.Interval = DefaultInterval
	}
	if o.API == nil {
		o.API = HTTPAPI{}
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	return &Controller{o: o, log: o.Logger, state: StateNotEnrolled, refused: map[string]bool{}}
}

// Name is "command".
func (c *Controller) Name() string { return "command" }

// Locked reports whether a lock or wipe ran for the enrolled device: the
// tunnel must stay down. A damaged state file counts as locked.
func (c *Controller) Locked() bool {
	rec := c.o.Record()
	c.mu.Lock()
	defer c.mu.Unlock()
	c.loadLocked()
	return c.lockedLocked(rec)
}

// lockedLocked is Locked with c.mu held.
func (c *Controller) lockedLocked(rec *enrollment.Record) bool {
	if !c.st.Locked {
		return false
	}
	return c.st.DeviceID == "" || rec == nil || rec.DeviceID == c.st.DeviceID
}

// Reconcile acknowledges what is still unacknowledged, fetches the
// pending commands and carries out each valid new one.
func (c *Controller) Reconcile(ctx context.Context) (time.Time, error) {
	rec := c.o.Record()
	c.mu.Lock()
	c.loadLocked()
	c.mu.Unlock()
	if rec == nil {
		c.set(StateNotEnrolled, "")
		return time.Time{}, nil
	}
	pub, err := protocol.ParseCommandKey(rec.CommandKey)
	if rec.CommandKey == "" || err != nil {
		c.set(StateNoCommandKey, "the enrollment pinned no command key; remote lock and wipe reach this laptop only after re-enrollment")
		return time.Time{}, nil
	}
	next := c.o.Now().Add(c.o.Interval)
	var errs []error
	if err := c.ackPending(ctx, rec); err != nil {
		errs = append(errs, err)
	}
	scs, err := c.o.API.Commands(ctx, rec)
	if err != nil {
		c.settle()
		return next, errors.Join(append(errs, err)...)
	}
	for _, sc := range scs {
		cmd, err := c.Check(pub, rec, sc)
		if err != nil {
			key := sc.Payload + "." + sc.Signature
			c.mu.Lock()
			first := !c.refused[key]
			c.refused[key] = true
			c.mu.Unlock()
			if first && !errors.Is(err, ErrReplay) {
				c.log.Warn("refused a device command", "err", err)
			}
			continue
		}
		c.run(ctx, cmd)
	}
	if err := c.ackPending(ctx, rec); err != nil {
		errs = append(errs, err)
	}
	c.settle()
	return next, errors.Join(errs...)
}

// Check verifies sc with the pinned key pub and checks that it is for
// this device, within its window and not carried out before.
func (c *Controller) Check(pub ed25519.PublicKey, rec *enrollment.Record, sc protocol.SignedCommand) (protocol.Command, error) {
	cmd, err := protocol.VerifyCommand(pub, sc)
	if err != nil {
		return cmd, err
	}
	if cmd.Tenant != rec.Tenant || cmd.DeviceID != rec.DeviceID {
		return cmd, fmt.Errorf("command %s for %s in %s: %w", cmd.ID, cmd.DeviceID, cmd.Tenant, ErrOtherDevice)
	}
	issued, expires, err := cmd.Window()
	if err != nil {
		return cmd, err
	}
	if now := c.o.Now(); !now.Before(expires) || issued.After(now.Add(ClockSkew)) {
		return cmd, fmt.Errorf("command %s (issued %s, expires %s): %w", cmd.ID, cmd.IssuedAt, cmd.ExpiresAt, ErrExpired)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, d := range c.st.Done {
		if d.ID == cmd.ID {
			return cmd, fmt.Errorf("command %s: %w", cmd.ID, ErrReplay)
		}
	}
	return cmd, nil
}

// run carries out cmd and records it (before acknowledging it).
func (c *Controller) run(ctx context.Context, cmd protocol.Command) {
	c.log.Warn("carrying out a remote command", "command", cmd.ID, "kind", cmd.Kind, "operation", cmd.OperationID)
	// The tunnel goes down whatever the executor manages.
	c.mu.Lock()
	if c.st.DeviceID != cmd.DeviceID {
		// A new enrollment: the commands of the old device are history.
		c.st = state{DeviceID: cmd.DeviceID, Done: c.st.Done}
	}
	c.st.Locked = true
	c.saveLocked()
	c.mu.Unlock()
	if c.o.OnLock != nil {
		c.o.OnLock()
	}
	var err error
	msg := "local logins disabled for the tenant's users; tunnel down"
	switch cmd.Kind {
	case protocol.CommandLock:
		err = c.o.Executor.Lock(ctx)
	case protocol.CommandWipe:
		msg = "disk encryption keys destroyed; local logins disabled; tunnel down"
		if err = c.o.Executor.Wipe(ctx); err == nil {
			if lerr := c.o.Executor.Lock(ctx); lerr != nil {
				msg = "disk encryption keys destroyed; tunnel down; locking logins failed: " + lerr.Error()
			}
		}
	}
	d := Done{ID: cmd.ID, Kind: cmd.Kind, OperationID: cmd.OperationID, ExpiresAt: cmd.ExpiresAt, RanAt: c.o.Now(), Result: protocol.AckDone, Message: msg}
	if err != nil {
		d.Result, d.Message = protocol.AckFailed, err.Error()
		c.log.Error("a remote command failed", "command", cmd.ID, "kind", cmd.Kind, "err", err)
	} else {
		c.log.Warn("remote command carried out", "command", cmd.ID, "kind", cmd.Kind)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if cmd.Kind == protocol.CommandWipe && err == nil {
		c.st.Wiped = true
	}
	c.st.Done = append(c.st.Done, d)
	c.saveLocked()
}

// ackPending acknowledges the results the API has not recorded yet.
func (c *Controller) ackPending(ctx context.Context, rec *enrollment.Record) error {
	c.mu.Lock()
	var todo []Done
	for _, d := range c.st.Done {
		if !d.Acked {
			todo = append(todo, d)
		}
	}
	c.mu.Unlock()
	var errs []error
	for _, d := range todo {
		err := c.o.API.Ack(ctx, rec, d.ID, protocol.CommandAck{Result: d.Result, Message: d.Message})
		var ae *APIError
		if errors.As(err, &ae) && (ae.Reason == "command_acknowledged" || ae.Reason == "unknown_command") {
			err = nil // recorded before, or nothing left to record
		}
		if err != nil {
			errs = append(errs, err)
			continue
		}
		c.mu.Lock()
		for i := range c.st.Done {
			if c.st.Done[i].ID == d.ID {
				c.st.Done[i].Acked = true
			}
		}
		c.saveLocked()
		c.mu.Unlock()
	}
	return errors.Join(errs...)
}

// settle sets the state from the state file.
func (c *Controller) settle() {
	rec := c.o.Record()
	c.mu.Lock()
	st, locked := c.st, c.lockedLocked(rec)
	c.mu.Unlock()
	switch {
	case !locked:
		c.set(StateIdle, "no pending command")
	case st.Wiped:
		c.set(StateWiped, "this laptop was wiped remotely: "+lastMessage(st))
	case st.Locked:
		c.set(StateLocked, "this laptop was locked remotely: "+lastMessage(st))
	default:
		c.set(StateIdle, "no pending command")
	}
}

func lastMessage(st state) string {
	if len(st.Done) == 0 {
		return "tunnel down"
	}
	d := st.Done[len(st.Done)-1]
	return fmt.Sprintf("%s %s (operation %s) %s: %s", d.Kind, d.ID, d.OperationID, d.Result, d.Message)
}

func (c *Controller) set(state, msg string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.state, c.msg = state, msg
}

// State is the controller's state for the controller list.
func (c *Controller) State() (string, string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.state, c.msg
}

// Status is the remote commands' outcome for the status document, nil
// when none ran.
func (c *Controller) Status() *status.Commands {
	rec := c.o.Record()
	c.mu.Lock()
	defer c.mu.Unlock()
	c.loadLocked()
	if !c.lockedLocked(rec) {
		return nil
	}
	s := &status.Commands{State: StateLocked}
	if c.st.Wiped {
		s.State = StateWiped
	}
	if n := len(c.st.Done); n > 0 {
		d := c.st.Done[n-1]
		s.Last = &status.Command{ID: d.ID, Kind: d.Kind, OperationID: d.OperationID, RanAt: d.RanAt,
			Result: d.Result, Message: d.Message, Acknowledged: d.Acked}
	}
	return s
}

// loadLocked reads the state file once; c.mu is held.
func (c *Controller) loadLocked() {
	if c.loaded {
		return
	}
	c.loaded = true
	b, err := os.ReadFile(filepath.Join(c.o.StateDir, StateFile))
	if err != nil {
		return
	}
	var st state
	if err := protocol.DecodeJSON(bytes.NewReader(b), 1<<20, &st); err != nil {
		// A damaged file must not unlock a locked laptop.
		c.log.Error("the command state file is damaged; keeping the laptop locked", "err", err)
		st = state{Locked: true}
	}
	c.st = st
}

// saveLocked writes the state file; c.mu is held.
func (c *Controller) saveLocked() {
	b, err := json.MarshalIndent(c.st, "", "  ")
	if err != nil {
		return
	}
	if err := atomicfile.WriteFile(filepath.Join(c.o.StateDir, StateFile), append(b, '\n'), 0o600); err != nil {
		c.log.Error("saving the command state", "err", err)
	}
}
