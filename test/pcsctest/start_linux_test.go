//go:build linux && cgo

package pcsctest

import "testing"

// TestStartTwo holds two keys at once: each must get its own slot, reader
// and 8-digit serial, and Unplug must empty its reader.
func TestStartTwo(t *testing.T) {
	Require(t)
	keys := []*Key{Start(t, Options{Version: "5.7.1"}), Start(t, Options{Version: "5.4.3"})}
	if keys[0].Port == keys[1].Port || keys[0].Reader == keys[1].Reader {
		t.Errorf("two keys share a slot: %+v and %+v", keys[0], keys[1])
	}
	for _, k := range keys {
		if k.Serial < 10_000_000 || k.Serial > 99_999_999 {
			t.Errorf("random serial %d is not 8 digits", k.Serial)
		}
		if err := cardPresent(k.Reader); err != nil {
			t.Errorf("key %d: %v", k.Serial, err)
		}
	}
	keys[0].Unplug()
	if err := cardPresent(keys[0].Reader); err == nil {
		t.Errorf("reader %q still has a card after Unplug", keys[0].Reader)
	}
}
