package disk

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/kiwistack/endpoint/agent/enrollment"
	"github.com/kiwistack/endpoint/enroll/protocol"
	"github.com/kiwistack/endpoint/internal/escrow"
	"github.com/kiwistack/endpoint/platform/luks"
)

// fakeVolume is an in-memory LUKS2 header; events records what changed.
type fakeVolume struct {
	slots    map[int][]byte
	events   *[]string
	addErr   error
	killErr  error
	notLUKS2 bool
}

func (v *fakeVolume) Inspect(context.Context) (luks.Info, error) {
	if v.notLUKS2 {
		return luks.Info{}, luks.ErrNotLUKS2
	}
	var s []int
	for n := range v.slots {
		s = append(s, n)
	}
	slices.Sort(s)
	return luks.Info{UUID: "14eeb99c-b569-49c3-9cdf-32ff71008d9d", Slots: s}, nil
}

func (v *fakeVolume) AddKey(_ context.Context, slot int, key []byte) error {
	if v.addErr != nil {
		return v.addErr
	}
	v.slots[slot] = key
	*v.events = append(*v.events, "add")
	return nil
}

func (v *fakeVolume) KillSlot(_ context.Context, slot int) error {
	if v.killErr != nil {
		return v.killErr
	}
	delete(v.slots, slot)
	*v.events = append(*v.events, "kill")
	return nil
}

// fakeAPI opens what it is sent with the escrow key, like the API.
type fakeAPI struct {
	key    *escrow.PrivateKey
	err    error
	stored map[string]string // sealed → id
	keys   map[string]escrow.RecoveryKey
	events *[]string
}

func (a *fakeAPI) Escrow(_ context.Context, _ *enrollment.Record, req protocol.DiskEscrowRequest) (string, error) {
	if a.err != nil {
		return "", a.err
	}
	k, err := a.key.Open(req.Sealed, escrow.Binding{Tenant: "acme", DeviceID: "dev-1", Volume: req.Volume})
	if err != nil {
		return "", err
	}
	if id, ok := a.stored[req.Sealed]; ok {
		return id, nil
	}
	id := "esc-" + strings.Repeat(string(rune('A'+len(a.stored))), 22)
	a.stored[req.Sealed], a.keys[id] = id, k
	*a.events = append(*a.events, "escrow")
	return id, nil
}

type fixture struct {
	c    *Controller
	vol  *fakeVolume
	api  *fakeAPI
	cfg  *protocol.AgentConfig
	dir  string
	evts *[]string
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	k, err := escrow.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	ev := &[]string{}
	f := &fixture{dir: t.TempDir(), evts: ev,
		vol: &fakeVolume{slots: map[int][]byte{0: []byte("installer")}, events: ev},
		api: &fakeAPI{key: k, stored: map[string]string{}, keys: map[string]escrow.RecoveryKey{}, events: ev},
		cfg: &protocol.AgentConfig{Tenant: "acme", DeviceID: "dev-1", Disk: &protocol.DiskConfig{EscrowKey: k.Public()}}}
	f.c = f.newController()
	return f
}

func (f *fixture) newController() *Controller {
	return New(Options{StateDir: f.dir, Record: func() *enrollment.Record { return &enrollment.Record{} },
		Config: func() *protocol.AgentConfig { return f.cfg }, Volume: func() (Volume, error) { return f.vol, nil }, API: f.api})
}

func (f *fixture) reconcile(t *testing.T) error {
	t.Helper()
	_, err := f.c.Reconcile(context.Background())
	return err
}

func TestEscrowAndRotate(t *testing.T) {
	f := newFixture(t)
	if err := f.reconcile(t); err != nil {
		t.Fatal(err)
	}
	st := f.c.Status()
	if st.State != StateEscrowed || *st.Slot != 1 || st.EscrowID == "" {
		t.Fatalf("status %+v", st)
	}
	if k := f.api.keys[st.EscrowID]; string(f.vol.slots[1]) != k.String() {
		t.Fatal("the escrowed key is not the slot's")
	}
	b, _ := os.ReadFile(filepath.Join(f.dir, StateFile))
	if strings.Contains(string(b), string(f.vol.slots[1])) {
		t.Fatal("the state file holds the key")
	}
	// Rotation: the new key is added and escrowed before the old slot dies.
	*f.evts = nil
	f.cfg.Disk.RotateEscrow = st.EscrowID
	if err := f.reconcile(t); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(*f.evts, []string{"add", "escrow", "kill"}) {
		t.Errorf("rotation order %v", *f.evts)
	}
	st2 := f.c.Status()
	if st2.EscrowID == st.EscrowID || *st2.Slot != 2 || st2.Rotations != 1 || f.vol.slots[1] != nil {
		t.Fatalf("after rotation %+v, slots %v", st2, f.vol.slots)
	}
	// The stale config (still naming the old escrow) does not rotate again.
	*f.evts = nil
	if err := f.reconcile(t); err != nil || len(*f.evts) != 0 {
		t.Fatalf("idle pass: %v %v", err, *f.evts)
	}
	// A new controller (agent restart) reports from the state file.
	if got := f.newController().Status(); got.EscrowID != st2.EscrowID || got.State != StateEscrowed {
		t.Errorf("after restart %+v", got)
	}
}

// TestCrashSafety: every interruption resumes without a lost escrow or an
// unknown slot.
func TestCrashSafety(t *testing.T) {
	t.Run("escrow fails after the slot was added", func(t *testing.T) {
		f := newFixture(t)
		f.api.err = errors.New("api down")
		if err := f.reconcile(t); err == nil || f.c.Status().State != StateError {
			t.Fatalf("want an error, got %v %+v", err, f.c.Status())
		}
		if len(f.vol.slots) != 2 {
			t.Fatalf("slots %v", f.vol.slots)
		}
		f.api.err = nil
		// A restarted agent finishes the recorded key: no second slot.
		f.c = f.newController()
		if err := f.reconcile(t); err != nil {
			t.Fatal(err)
		}
		if len(f.vol.slots) != 2 || len(f.api.stored) != 1 || f.c.Status().EscrowID == "" {
			t.Fatalf("slots %v, escrows %d", f.vol.slots, len(f.api.stored))
		}
	})
	t.Run("crash before the slot was written", func(t *testing.T) {
		f := newFixture(t)
		f.vol.addErr = errors.New("killed")
		if err := f.reconcile(t); err == nil {
			t.Fatal("no error")
		}
		f.vol.addErr = nil
		if err := f.reconcile(t); err != nil {
			t.Fatal(err)
		}
		if len(f.vol.slots) != 2 || len(f.api.stored) != 1 {
			t.Fatalf("slots %v, escrows %d", f.vol.slots, len(f.api.stored))
		}
	})
	t.Run("kill fails after the rotation escrowed", func(t *testing.T) {
		f := newFixture(t)
		if err := f.reconcile(t); err != nil {
			t.Fatal(err)
		}
		f.cfg.Disk.RotateEscrow = f.c.Status().EscrowID
		f.vol.killErr = errors.New("busy")
		if err := f.reconcile(t); err == nil {
			t.Fatal("no error")
		}
		if len(f.vol.slots) != 3 || len(f.api.stored) != 2 {
			t.Fatalf("slots %v, escrows %d", f.vol.slots, len(f.api.stored))
		}
		f.vol.killErr = nil
		if err := f.reconcile(t); err != nil {
			t.Fatal(err)
		}
		if _, ok := f.vol.slots[1]; ok || len(f.vol.slots) != 2 || len(f.api.stored) != 2 {
			t.Fatalf("slots %v, escrows %d", f.vol.slots, len(f.api.stored))
		}
	})
}

func TestStates(t *testing.T) {
	f := newFixture(t)
	f.cfg.Disk = nil
	if err := f.reconcile(t); err != nil || f.c.Status().State != StateNotConfigured {
		t.Errorf("no disk config: %v %+v", err, f.c.Status())
	}
	f = newFixture(t)
	f.vol.notLUKS2 = true
	if err := f.reconcile(t); !errors.Is(err, luks.ErrNotLUKS2) || len(*f.evts) != 0 {
		t.Errorf("not LUKS2: %v %v", err, *f.evts)
	}
	for n := 1; n < luks.MaxSlots; n++ {
		f.vol.slots[n] = []byte("x")
	}
	f.vol.notLUKS2 = false
	if err := f.reconcile(t); !errors.Is(err, luks.ErrSlotsFull) || len(*f.evts) != 0 {
		t.Errorf("full: %v %v", err, *f.evts)
	}
	if _, err := os.Stat(filepath.Join(f.dir, StateFile)); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("state file written on a refusal: %v", err)
	}
	d := New(Options{StateDir: t.TempDir(), Delegated: "Fleet does it", Record: func() *enrollment.Record { return &enrollment.Record{} },
		Config: func() *protocol.AgentConfig { return f.cfg }})
	if _, err := d.Reconcile(context.Background()); err != nil || d.Status().State != StateDelegated {
		t.Errorf("delegated: %v %+v", err, d.Status())
	}
}
