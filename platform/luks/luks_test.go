package luks

import (
	"errors"
	"slices"
	"testing"
)

func TestParseSlots(t *testing.T) {
	s, err := ParseSlots([]byte(`{"keyslots":{"5":{},"0":{},"12":{}},"tokens":{}}`))
	if err != nil || !slices.Equal(s, []int{0, 5, 12}) {
		t.Fatalf("ParseSlots = %v, %v", s, err)
	}
	for _, bad := range []string{``, `{}`, `{"keyslots":{"x":{}}}`, `{"keyslots":{"32":{}}}`, `{"keyslots":[]}`} {
		if _, err := ParseSlots([]byte(bad)); err == nil {
			t.Errorf("ParseSlots(%q) accepted", bad)
		}
	}
	if n, err := FreeSlot([]int{0, 1, 3}); n != 2 || err != nil {
		t.Errorf("FreeSlot = %d, %v", n, err)
	}
	full := make([]int, MaxSlots)
	for i := range full {
		full[i] = i
	}
	if _, err := FreeSlot(full); !errors.Is(err, ErrSlotsFull) {
		t.Errorf("FreeSlot(full) = %v", err)
	}
}

func FuzzParseSlots(f *testing.F) {
	f.Add([]byte(`{"keyslots":{"0":{}}}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		s, err := ParseSlots(b)
		if err != nil {
			return
		}
		for _, n := range s {
			if n < 0 || n >= MaxSlots {
				t.Fatalf("slot %d out of range", n)
			}
		}
	})
}
