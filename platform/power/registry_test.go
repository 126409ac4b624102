package power

import "testing"

func TestRegistry(t *testing.T) {
	var r registry[chan struct{}]
	a, b := make(chan struct{}, 1), make(chan struct{}, 1)
	ida, idb := r.add(a), r.add(b)
	if ida == 0 || idb == 0 || ida == idb {
		t.Fatalf("contexts %d and %d, want distinct and non-zero", ida, idb)
	}
	r.with(idb, func(ch chan struct{}) { notify(ch) })
	r.remove(ida)
	r.with(ida, func(chan struct{}) { t.Error("called for a removed context") })
	close(a) // safe: nothing sends for ida any more
	select {
	case <-b:
	default:
		t.Error("no event for a registered context")
	}
	r.with(12345, func(chan struct{}) { t.Error("called for an unknown context") })
}
