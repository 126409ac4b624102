package luks_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"

	"github.com/kiwistack/endpoint/platform/luks"
	"github.com/kiwistack/endpoint/platform/luks/lukstest"
)

// TestDevice adds, tests and kills a key on a real LUKS2 volume, and
// checks that LUKS1, a plain device and a full slot table are refused
// with nothing changed.
func TestDevice(t *testing.T) {
	ctx := context.Background()
	v := lukstest.New(t, "luks2")
	d := luks.Device{Path: v.Device, AuthKeyFile: v.KeyFile, PBKDF: lukstest.FastPBKDF}
	info, err := d.Inspect(ctx)
	if err != nil || len(info.UUID) != 36 || !slices.Equal(info.Slots, []int{0}) {
		t.Fatalf("Inspect = %+v, %v", info, err)
	}
	key := []byte("123456-654321")
	if err := d.AddKey(ctx, 3, key); err != nil {
		t.Fatal(err)
	}
	if err := d.TestKey(ctx, 3, key); err != nil {
		t.Fatalf("the new key does not open slot 3: %v", err)
	}
	if err := d.AddKey(ctx, 3, []byte("other")); err == nil {
		t.Fatal("AddKey overwrote slot 3")
	}
	if err := d.KillSlot(ctx, 3); err != nil {
		t.Fatal(err)
	}
	if err := d.TestKey(ctx, -1, key); err == nil {
		t.Fatal("a killed key still opens the volume")
	}
	if err := d.KillSlot(ctx, 3); err != nil {
		t.Fatalf("killing a free slot: %v", err)
	}

	// Fill every slot: the next AddKey is refused before cryptsetup runs.
	for n := 1; n < luks.MaxSlots; n++ {
		if err := d.AddKey(ctx, n, fmt.Appendf(nil, "k%d", n)); err != nil {
			t.Fatalf("slot %d: %v", n, err)
		}
	}
	info, _ = d.Inspect(ctx)
	if _, err := luks.FreeSlot(info.Slots); !errors.Is(err, luks.ErrSlotsFull) {
		t.Fatalf("FreeSlot on %d slots: %v", len(info.Slots), err)
	}

	for _, format := range []string{"luks1", ""} {
		v := lukstest.New(t, format)
		d := luks.Device{Path: v.Device, AuthKeyFile: v.KeyFile, PBKDF: lukstest.FastPBKDF}
		if _, err := d.Inspect(ctx); !errors.Is(err, luks.ErrNotLUKS2) {
			t.Errorf("%q: Inspect = %v, want ErrNotLUKS2", format, err)
		}
		if err := d.AddKey(ctx, 1, key); !errors.Is(err, luks.ErrNotLUKS2) {
			t.Errorf("%q: AddKey = %v, want ErrNotLUKS2", format, err)
		}
		if format == "luks1" {
			if err := d.TestKey(ctx, -1, key); err == nil {
				t.Errorf("the refused key opens the LUKS1 volume")
			}
		}
	}
}
