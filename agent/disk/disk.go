package disk

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"time"

	"github.com/kiwistack/endpoint/agent/enrollment"
	"github.com/kiwistack/endpoint/agent/status"
	"github.com/kiwistack/endpoint/enroll/protocol"
	"github.com/kiwistack/endpoint/internal/atomicfile"
	"github.com/kiwistack/endpoint/internal/escrow"
	"github.com/kiwistack/endpoint/platform/luks"
)

// States of the controller, as status shows them.
const (
	StateNotConfigured = "not configured" // not enrolled, or the API escrows no keys
	StateNotEncrypted  = "not encrypted"  // no LUKS volume under /
	StateNoKeyFile     = "no key file"    // nothing authenticates a new key slot
	StateEscrowed      = "escrowed"       // a recovery key is in its slot and escrowed
	StateDelegated     = "delegated"      // macOS and Windows: Fleet escrows the key
	StateError         = "error"
)

// StateFile is the controller's state file in the state directory (0600):
// the volume, the slot and the escrow id, never the key.
const StateFile = "disk-state.json"

// KeyFileName is the installer's LUKS key file in the configuration
// directory (/etc/kiwistack/disk.key, 0600 root): it opens a key slot of
// the root volume and authenticates the recovery key's slot.
const KeyFileName = "disk.key"

// retryAfter is how soon a failed pass is retried.
const retryAfter = 5 * time.Minute

// Volume is the encrypted volume as the controller uses it;
// luks.Device implements it.
type Volume interface {
	// Inspect reads the header: luks.ErrNotLUKS2 when not LUKS2.
	Inspect(ctx context.Context) (luks.Info, error)
	// AddKey adds key in slot.
	AddKey(ctx context.Context, slot int, key []byte) error
	// KillSlot destroys slot (no error when it is free).
	KillSlot(ctx context.Context, slot int) error
}

// Options configure a Controller.
type Options struct {
	// StateDir holds StateFile (required).
	StateDir string
	// Record is the enrollment record, nil when not enrolled.
	Record func() *enrollment.Record
	// Config is the current tenant configuration, nil when not enrolled.
	Config func() *protocol.AgentConfig
	// Volume opens the volume; nil finds the LUKS device under Root and
	// authenticates with KeyFile.
	Volume func() (Volume, error)
	// Root is the filesystem root (for finding the root volume).
	Root string
	// Device is the LUKS device when set; "" finds the one under Root.
	Device string
	// KeyFile is the installer's key file (KeyFileName in the
	// configuration directory when empty).
	KeyFile string
	// ConfigDir is the agent's configuration directory.
	ConfigDir string
	// Delegated, when set, is this OS's hand-off message: Fleet escrows
	// the key (macOS, Windows), and the controller only reports it.
	Delegated string
	// API posts escrows (HTTPAPI when nil).
	API API
	// Random draws recovery keys (crypto/rand when nil).
	Random io.Reader
	// Now is the clock (time.Now when nil).
	Now func() time.Time
	// Logger; discarded when nil.
	Logger *slog.Logger
}

// pending is a key being added and escrowed, recorded before its slot is
// written.
type pending struct {
	Slot int `json:"slot"`
	// Sealed is the key sealed to the escrow key: only the tenant opens it.
	Sealed string `json:"sealed"`
	// Replaces and OldSlot are the escrow and slot it rotates out.
	Replaces string `json:"replaces,omitempty"`
	OldSlot  *int   `json:"old_slot,omitempty"`
}

// state is StateFile.
type state struct {
	Volume     string    `json:"volume,omitempty"`
	Slot       *int      `json:"slot,omitempty"`
	EscrowID   string    `json:"escrow_id,omitempty"`
	EscrowedAt time.Time `json:"escrowed_at,omitzero"`
	Rotations  int       `json:"rotations,omitempty"`
	Pending    *pending  `json:"pending,omitempty"`
	KillSlot   *int      `json:"kill_slot,omitempty"`
}

// Controller keeps a recovery key escrowed.
type Controller struct {
	o Options

	mu sync.Mutex
	st status.Disk
}

// New returns the controller.
func New(o Options) *Controller {
	if o.API == nil {
		o.API = HTTPAPI{}
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Record == nil {
		o.Record = func() *enrollment.Record { return nil }
	}
	if o.Config == nil {
		o.Config = func() *protocol.AgentConfig { return nil }
	}
	if o.Delegated == "" && o.Volume == nil {
		o.Delegated = delegated
	}
	if o.KeyFile == "" {
		o.KeyFile = filepath.Join(o.ConfigDir, KeyFileName)
	}
	c := &Controller{o: o, st: status.Disk{State: StateNotConfigured}}
	if s, err := c.load(); err == nil && s.EscrowID != "" {
		c.st = status.Disk{State: StateEscrowed, Volume: s.Volume, Slot: s.Slot, EscrowID: s.EscrowID, EscrowedAt: s.EscrowedAt, Rotations: s.Rotations}
	}
	return c
}

// Name is "disk".
func (c *Controller) Name() string { return "disk" }

// volume opens the configured volume.
func (c *Controller) volume() (Volume, string, error) {
	if c.o.Volume != nil {
		v, err := c.o.Volume()
		return v, "", err
	}
	dev := c.o.Device
	if dev == "" {
		var err error
		if dev, err = luks.RootDevice(c.o.Root); err != nil {
			return nil, "", err
		}
	}
	return luks.Device{Path: dev, AuthKeyFile: c.o.KeyFile}, dev, nil
}

// Reconcile finishes what a previous pass recorded, then adds and
// escrows a key when none is, or when the escrowed one was read.
func (c *Controller) Reconcile(ctx context.Context) (time.Time, error) {
	cfg, rec := c.o.Config(), c.o.Record()
	if cfg == nil || rec == nil || cfg.Disk == nil {
		c.set(status.Disk{State: StateNotConfigured, Message: "not enrolled, or the tenant's API escrows no disk keys"})
		return time.Time{}, nil
	}
	if c.o.Delegated != "" {
		c.set(status.Disk{State: StateDelegated, Message: c.o.Delegated})
		return time.Time{}, nil
	}
	st, err := c.load()
	if err != nil {
		return c.fail(st, err)
	}
	vol, dev, err := c.volume()
	if errors.Is(err, luks.ErrNoRoot) {
		c.set(status.Disk{State: StateNotEncrypted, Message: err.Error()})
		return time.Time{}, nil
	}
	if err != nil {
		return c.fail(st, err)
	}
	if c.o.Volume == nil {
		if _, err := os.Stat(c.o.KeyFile); err != nil {
			c.set(status.Disk{State: StateNoKeyFile, Device: dev, Message: fmt.Sprintf(
				"%s is missing: the installer provisions a key file for the root volume; without it no recovery key slot can be added", c.o.KeyFile)})
			return time.Time{}, nil
		}
	}
	info, err := vol.Inspect(ctx)
	if err != nil {
		return c.fail(st, err)
	}
	if st.Volume != "" && st.Volume != info.UUID {
		c.o.Logger.Warn("the root volume changed; escrowing a key for the new one", "old", st.Volume, "new", info.UUID)
		st = state{}
	}
	st.Volume = info.UUID
	bind := escrow.Binding{Tenant: cfg.Tenant, DeviceID: cfg.DeviceID, Volume: info.UUID}

	// 1. A key recorded as pending: escrow it if its slot was written,
	// forget it otherwise (the pass crashed before luksAddKey).
	if p := st.Pending; p != nil {
		if !slices.Contains(info.Slots, p.Slot) {
			st.Pending = nil
			if err := c.save(st); err != nil {
				return c.fail(st, err)
			}
		} else if err := c.escrow(ctx, rec, &st, info.UUID); err != nil {
			return c.fail(st, err)
		}
	}
	// 2. A rotated-out slot: killed only once its successor is escrowed.
	if err := c.killOld(ctx, vol, &st); err != nil {
		return c.fail(st, err)
	}
	// 3. A new key when none is escrowed, its slot is gone, or it was read.
	read := st.EscrowID != "" && cfg.Disk.RotateEscrow == st.EscrowID
	missing := st.Slot != nil && !slices.Contains(info.Slots, *st.Slot)
	if st.EscrowID == "" || read || missing {
		if err := c.addKey(ctx, vol, rec, cfg.Disk.EscrowKey, bind, info, &st, read); err != nil {
			return c.fail(st, err)
		}
		if err := c.killOld(ctx, vol, &st); err != nil {
			return c.fail(st, err)
		}
	}
	c.set(status.Disk{State: StateEscrowed, Device: dev, Volume: st.Volume, Slot: st.Slot, EscrowID: st.EscrowID,
		EscrowedAt: st.EscrowedAt, Rotations: st.Rotations})
	return time.Time{}, nil
}

// addKey draws a key, seals it, records it as pending, writes its slot
// and escrows it. The key itself lives only in this function's memory.
func (c *Controller) addKey(ctx context.Context, vol Volume, rec *enrollment.Record, escrowKey string, bind escrow.Binding,
	info luks.Info, st *state, rotate bool) error {
	slot, err := luks.FreeSlot(info.Slots)
	if err != nil {
		return fmt.Errorf("adding a recovery key: %w; remove an unused key slot (cryptsetup luksKillSlot)", err)
	}
	key, err := escrow.NewRecoveryKey(c.o.Random)
	if err != nil {
		return err
	}
	sealed, err := escrow.Seal(escrowKey, bind, key)
	if err != nil {
		return fmt.Errorf("sealing the recovery key to the tenant's escrow key: %w", err)
	}
	p := &pending{Slot: slot, Sealed: sealed}
	if rotate || st.EscrowID != "" {
		p.Replaces = st.EscrowID
	}
	if st.Slot != nil && slices.Contains(info.Slots, *st.Slot) {
		old := *st.Slot
		p.OldSlot = &old
	}
	st.Pending = p
	if err := c.save(*st); err != nil {
		return err
	}
	if err := vol.AddKey(ctx, slot, []byte(key.String())); err != nil {
		st.Pending = nil
		if serr := c.save(*st); serr != nil {
			return errors.Join(err, serr)
		}
		return err
	}
	c.o.Logger.Info("recovery key added", "volume", bind.Volume, "slot", slot, "rotation", p.OldSlot != nil)
	return c.escrow(ctx, rec, st, bind.Volume)
}

// escrow posts the pending key and makes it current.
func (c *Controller) escrow(ctx context.Context, rec *enrollment.Record, st *state, volume string) error {
	p := st.Pending
	id, err := c.o.API.Escrow(ctx, rec, protocol.DiskEscrowRequest{Volume: volume, KeySlot: p.Slot, Sealed: p.Sealed, Replaces: p.Replaces})
	if err != nil {
		return err
	}
	slot := p.Slot
	if p.OldSlot != nil && *p.OldSlot != slot {
		st.KillSlot = p.OldSlot
	}
	if p.Replaces != "" {
		st.Rotations++
	}
	st.Slot, st.EscrowID, st.EscrowedAt, st.Pending = &slot, id, c.o.Now().UTC().Truncate(time.Second), nil
	if err := c.save(*st); err != nil {
		return err
	}
	c.o.Logger.Info("recovery key escrowed", "escrow", id, "slot", slot, "replaces", p.Replaces)
	return nil
}

// killOld kills the slot a rotation left, then forgets it.
func (c *Controller) killOld(ctx context.Context, vol Volume, st *state) error {
	if st.KillSlot == nil {
		return nil
	}
	if err := vol.KillSlot(ctx, *st.KillSlot); err != nil {
		return err
	}
	c.o.Logger.Info("old recovery key slot killed", "slot", *st.KillSlot)
	st.KillSlot = nil
	return c.save(*st)
}

func (c *Controller) fail(st state, err error) (time.Time, error) {
	c.set(status.Disk{State: StateError, Volume: st.Volume, Slot: st.Slot, EscrowID: st.EscrowID, EscrowedAt: st.EscrowedAt,
		Rotations: st.Rotations, Message: err.Error()})
	return c.o.Now().Add(retryAfter), err
}

func (c *Controller) load() (state, error) {
	var s state
	b, err := os.ReadFile(filepath.Join(c.o.StateDir, StateFile))
	if errors.Is(err, fs.ErrNotExist) {
		return s, nil
	}
	if err != nil {
		return s, fmt.Errorf("reading %s: %w", StateFile, err)
	}
	if err := json.Unmarshal(b, &s); err != nil {
		return state{}, fmt.Errorf("reading %s: %w", StateFile, err)
	}
	return s, nil
}

func (c *Controller) save(s state) error {
	b, err := json.MarshalIndent(s, "", "  ")
	if err != nil {
		return err
	}
	if err := os.MkdirAll(c.o.StateDir, 0o700); err != nil {
		return fmt.Errorf("saving %s: %w", StateFile, err)
	}
	if err := atomicfile.WriteFile(filepath.Join(c.o.StateDir, StateFile), append(b, '\n'), 0o600); err != nil {
		return fmt.Errorf("saving %s: %w", StateFile, err)
	}
	return nil
}

func (c *Controller) set(st status.Disk) {
	c.mu.Lock()
	c.st = st
	c.mu.Unlock()
}

// Status is the disk's state for status output.
func (c *Controller) Status() *status.Disk {
	c.mu.Lock()
	defer c.mu.Unlock()
	st := c.st
	return &st
}

// State implements reconcile.Controller.
func (c *Controller) State() (string, string) {
	st := c.Status()
	return st.State, st.Message
}
