package wipe_test

import (
	"bytes"
	"context"
	"testing"

	"github.com/kiwistack/endpoint/platform/luks/lukstest"
	"github.com/kiwistack/endpoint/platform/wipe"
)

// TestWipeLUKS wipes a real LUKS2 volume in a loop-device file: after Wipe
// luksDump shows no key slot and the key no longer opens it.
func TestWipeLUKS(t *testing.T) {
	vol := lukstest.New(t, "luks2")
	ctx := context.Background()
	run := func(argv ...string) []byte {
		t.Helper()
		out, err := wipe.Exec(ctx, argv)
		if err != nil {
			t.Fatal(err)
		}
		return out
	}
	if n := wipe.KeySlots(run("cryptsetup", "luksDump", vol.Device)); n != 1 {
		t.Fatalf("a new volume has %d key slots, want 1", n)
	}
	run("cryptsetup", "open", "--test-passphrase", "--key-file", vol.KeyFile, vol.Device)

	if err := wipe.Wipe(ctx, wipe.Options{Device: vol.Device}); err != nil {
		t.Fatal(err)
	}
	dump := run("cryptsetup", "luksDump", vol.Device)
	if n := wipe.KeySlots(dump); n != 0 || !bytes.Contains(dump, []byte("Keyslots:\nTokens:")) {
		t.Errorf("after the wipe %d key slots:\n%s", n, dump)
	}
	if out, err := wipe.Exec(ctx, []string{"cryptsetup", "open", "--test-passphrase", "--key-file", vol.KeyFile, vol.Device}); err == nil {
		t.Errorf("the key still opens the wiped volume: %s", out)
	}
}
