package command

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/kiwistack/endpoint/agent/enrollment"
	"github.com/kiwistack/endpoint/enroll/protocol"
)

// fakeAPI serves a fixed list of commands and records acknowledgements.
type fakeAPI struct {
	mu       sync.Mutex
	commands []protocol.SignedCommand
	acks     map[string]protocol.CommandAck
	fetchErr error
	ackErr   error
}

func (f *fakeAPI) Commands(context.Context, *enrollment.Record) ([]protocol.SignedCommand, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.commands, f.fetchErr
}

func (f *fakeAPI) Ack(_ context.Context, _ *enrollment.Record, id string, ack protocol.CommandAck) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.ackErr != nil {
		return f.ackErr
	}
	if f.acks == nil {
		f.acks = map[string]protocol.CommandAck{}
	}
	f.acks[id] = ack
	return nil
}

type fixture struct {
	key   ed25519.PrivateKey
	rec   *enrollment.Record
	api   *fakeAPI
	exec  *FakeExecutor
	now   time.Time
	dir   string
	locks int
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	pub, key, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return &fixture{key: key, api: &fakeAPI{}, exec: &FakeExecutor{}, dir: t.TempDir(),
		now: time.Date(2026, 11, 28, 9, 0, 0, 0, time.UTC),
		rec: &enrollment.Record{AgentConfig: protocol.AgentConfig{Version: 1, Tenant: "acme", DeviceID: "dev-1",
			CommandKey: protocol.EncodeCommandKey(pub)}}}
}

func (f *fixture) controller() *Controller {
	return New(Options{Record: func() *enrollment.Record { return f.rec }, StateDir: f.dir, Executor: f.exec, API: f.api,
		Now: func() time.Time { return f.now }, OnLock: func() { f.locks++ }})
}

// command signs a command for dev-1 valid for a day; edit changes it first.
func (f *fixture) command(t *testing.T, id, kind string, edit func(*protocol.Command)) protocol.SignedCommand {
	t.Helper()
	c := protocol.Command{Version: 1, ID: id, Tenant: "acme", DeviceID: "dev-1", Kind: kind, OperationID: "op-1",
		OperationDigest: "digest", IssuedAt: protocol.FormatTimestamp(f.now.Add(-time.Minute)),
		ExpiresAt: protocol.FormatTimestamp(f.now.Add(24 * time.Hour))}
	if edit != nil {
		edit(&c)
	}
	sc, err := protocol.SignCommand(f.key, c)
	if err != nil {
		t.Fatal(err)
	}
	return sc
}

func TestCommandRunsOnce(t *testing.T) {
	f := newFixture(t)
	f.api.commands = []protocol.SignedCommand{f.command(t, "cmd-1", protocol.CommandLock, nil)}
	c := f.controller()
	if c.Locked() {
		t.Fatal("locked before any command")
	}
	next, err := c.Reconcile(context.Background())
	if err != nil || !next.Equal(f.now.Add(DefaultInterval)) {
		t.Fatalf("Reconcile = %v, %v", next, err)
	}
	if l, w := f.exec.Counts(); l != 1 || w != 0 {
		t.Errorf("%d locks, %d wipes, want 1 lock", l, w)
	}
	if ack := f.api.acks["cmd-1"]; ack.Result != protocol.AckDone || f.locks != 1 || !c.Locked() {
		t.Errorf("ack %+v, OnLock %d, locked %v", ack, f.locks, c.Locked())
	}
	if st, msg := c.State(); st != StateLocked || !strings.Contains(msg, "cmd-1") {
		t.Errorf("state %s: %s", st, msg)
	}
	if s := c.Status(); s == nil || s.State != StateLocked || s.Last == nil || s.Last.ID != "cmd-1" || !s.Last.Acknowledged {
		t.Errorf("status %+v", s)
	}
	// The API serves it again (say the ack was lost on its side): it is
	// not run again.
	if _, err := c.Reconcile(context.Background()); err != nil {
		t.Fatal(err)
	}
	// A new controller over the same state file (a restart) remembers it
	// and stays locked.
	c2 := f.controller()
	if !c2.Locked() {
		t.Error("a restarted controller forgot the lock")
	}
	if _, err := c2.Reconcile(context.Background()); err != nil {
		t.Fatal(err)
	}
	if l, _ := f.exec.Counts(); l != 1 {
		t.Errorf("%d locks after replays, want 1", l)
	}
}

func TestCommandWipe(t *testing.T) {
	f := newFixture(t)
	f.api.commands = []protocol.SignedCommand{f.command(t, "cmd-w", protocol.CommandWipe, nil)}
	c := f.controller()
	if _, err := c.Reconcile(context.Background()); err != nil {
		t.Fatal(err)
	}
	if l, w := f.exec.Counts(); l != 1 || w != 1 {
		t.Errorf("%d locks, %d wipes, want 1 of each", l, w)
	}
	if s := c.Status(); s == nil || s.State != StateWiped || f.api.acks["cmd-w"].Result != protocol.AckDone {
		t.Errorf("status %+v, acks %+v", s, f.api.acks)
	}
}

func TestCommandRefused(t *testing.T) {
	f := newFixture(t)
	_, other, _ := ed25519.GenerateKey(rand.Reader)
	badSig := f.command(t, "cmd-bad", protocol.CommandLock, nil)
	forged, err := protocol.SignCommand(other, protocol.Command{Version: 1, ID: "cmd-forged", Tenant: "acme", DeviceID: "dev-1",
		Kind: protocol.CommandWipe, OperationID: "op-1", OperationDigest: "d", IssuedAt: protocol.FormatTimestamp(f.now),
		ExpiresAt: protocol.FormatTimestamp(f.now.Add(time.Hour))})
	if err != nil {
		t.Fatal(err)
	}
	badSig.Signature = forged.Signature
	for _, c := range []struct {
		name string
		sc   protocol.SignedCommand
		want error
	}{
		{"signed by another key", forged, protocol.ErrCommandSignature},
		{"signature of another command", badSig, protocol.ErrCommandSignature},
		{"another device", f.command(t, "cmd-o", protocol.CommandLock, func(c *protocol.Command) { c.DeviceID = "dev-2" }), ErrOtherDevice},
		{"another tenant", f.command(t, "cmd-t", protocol.CommandLock, func(c *protocol.Command) { c.Tenant = "globex" }), ErrOtherDevice},
		{"expired", f.command(t, "cmd-e", protocol.CommandLock, func(c *protocol.Command) {
			c.ExpiresAt = protocol.FormatTimestamp(f.now.Add(-time.Second))
		}), ErrExpired},
		{"issued in the future", f.command(t, "cmd-f", protocol.CommandLock, func(c *protocol.Command) {
			c.IssuedAt = protocol.FormatTimestamp(f.now.Add(time.Hour))
		}), ErrExpired},
	} {
		t.Run(c.name, func(t *testing.T) {
			f.api.commands = []protocol.SignedCommand{c.sc}
			ctl := f.controller()
			pub, _ := protocol.ParseCommandKey(f.rec.CommandKey)
			if _, err := ctl.Check(pub, f.rec, c.sc); !errors.Is(err, c.want) {
				t.Errorf("Check = %v, want %v", err, c.want)
			}
			if _, err := ctl.Reconcile(context.Background()); err != nil {
				t.Fatal(err)
			}
			if l, w := f.exec.Counts(); l != 0 || w != 0 || ctl.Locked() || len(f.api.acks) != 0 {
				t.Errorf("%d locks, %d wipes, locked %v, acks %v", l, w, ctl.Locked(), f.api.acks)
			}
			if st, _ := ctl.State(); st != StateIdle {
				t.Errorf("state %s, want idle", st)
			}
		})
	}
}

// TestCommandReplay: an id carried out before is refused even when the
// API signs it again with a new window.
func TestCommandReplay(t *testing.T) {
	f := newFixture(t)
	f.api.commands = []protocol.SignedCommand{f.command(t, "cmd-1", protocol.CommandLock, nil)}
	c := f.controller()
	if _, err := c.Reconcile(context.Background()); err != nil {
		t.Fatal(err)
	}
	f.now = f.now.Add(time.Hour)
	again := f.command(t, "cmd-1", protocol.CommandWipe, nil)
	pub, _ := protocol.ParseCommandKey(f.rec.CommandKey)
	if _, err := c.Check(pub, f.rec, again); !errors.Is(err, ErrReplay) {
		t.Errorf("replay: %v", err)
	}
	f.api.commands = []protocol.SignedCommand{again}
	if _, err := c.Reconcile(context.Background()); err != nil {
		t.Fatal(err)
	}
	if l, w := f.exec.Counts(); l != 1 || w != 0 {
		t.Errorf("%d locks, %d wipes after a replay, want 1 lock only", l, w)
	}
}

// TestCommandAckRetried: a failed acknowledgement is retried at the next
// pass, without running the command again; a failed command is reported
// failed and still keeps the laptop locked.
func TestCommandAckRetried(t *testing.T) {
	f := newFixture(t)
	f.exec.Err = errors.New("usermod failed")
	f.api.commands = []protocol.SignedCommand{f.command(t, "cmd-1", protocol.CommandLock, nil)}
	f.api.ackErr = errors.New("network down")
	c := f.controller()
	if _, err := c.Reconcile(context.Background()); err == nil {
		t.Error("a failed ack was not reported")
	}
	if !c.Locked() || len(f.api.acks) != 0 {
		t.Fatalf("locked %v, acks %v", c.Locked(), f.api.acks)
	}
	f.api.ackErr = nil
	if _, err := c.Reconcile(context.Background()); err != nil {
		t.Fatal(err)
	}
	if ack := f.api.acks["cmd-1"]; ack.Result != protocol.AckFailed || !strings.Contains(ack.Message, "usermod failed") {
		t.Errorf("ack %+v", ack)
	}
	if l, _ := f.exec.Counts(); l != 1 {
		t.Errorf("%d locks, want 1", l)
	}
}

func TestCommandIdle(t *testing.T) {
	f := newFixture(t)
	c := f.controller()
	// Not enrolled, then enrolled without a command key: no fetch, no timer.
	rec := f.rec
	f.rec = nil
	if next, err := c.Reconcile(context.Background()); err != nil || !next.IsZero() {
		t.Errorf("not enrolled: %v %v", next, err)
	}
	f.rec = &enrollment.Record{AgentConfig: protocol.AgentConfig{Tenant: "acme", DeviceID: "dev-1"}}
	if next, err := c.Reconcile(context.Background()); err != nil || !next.IsZero() {
		t.Errorf("no key: %v %v", next, err)
	}
	if st, _ := c.State(); st != StateNoCommandKey {
		t.Errorf("state %s", st)
	}
	f.rec = rec
	f.api.fetchErr = errors.New("offline")
	if next, err := c.Reconcile(context.Background()); err == nil || !next.Equal(f.now.Add(DefaultInterval)) {
		t.Errorf("offline: %v %v", next, err)
	}
	// A damaged state file keeps the laptop locked.
	if err := os.WriteFile(filepath.Join(f.dir, StateFile), []byte("{"), 0o600); err != nil {
		t.Fatal(err)
	}
	if !f.controller().Locked() {
		t.Error("a damaged state file unlocked the laptop")
	}
}

// TestCommandReenrollmentLifts: the lock holds for the device it was
// for; a re-enrolled laptop (new device id) is not locked.
func TestCommandReenrollmentLifts(t *testing.T) {
	f := newFixture(t)
	f.api.commands = []protocol.SignedCommand{f.command(t, "cmd-1", protocol.CommandLock, nil)}
	if _, err := f.controller().Reconcile(context.Background()); err != nil {
		t.Fatal(err)
	}
	f.api.commands = nil
	c := f.controller()
	if !c.Locked() {
		t.Fatal("not locked after the lock")
	}
	f.rec.DeviceID = "dev-new"
	if _, err := c.Reconcile(context.Background()); err != nil {
		t.Fatal(err)
	}
	if st, _ := c.State(); c.Locked() || c.Status() != nil || st != StateIdle {
		t.Errorf("re-enrolled: locked %v, status %+v, state %s", c.Locked(), c.Status(), st)
	}
}
