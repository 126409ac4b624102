package tunnel

import (
	"context"
	"sync"
)

// FakeBackend records what the controller asks of a backend, for tests.
type FakeBackend struct {
	mu    sync.Mutex
	Spec  *Spec
	Ups   int
	Downs int
	Peer  PeerState
	Err   error
}

// Name is "fake".
func (*FakeBackend) Name() string { return "fake" }

// Up records s (or fails with Err).
func (f *FakeBackend) Up(_ context.Context, s Spec) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.Err != nil {
		return f.Err
	}
	f.Ups++
	f.Spec = &s
	return nil
}

// Down forgets the spec.
func (f *FakeBackend) Down() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.Downs++
	f.Spec = nil
	return nil
}

// State returns Peer while up.
func (f *FakeBackend) State() (PeerState, bool, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.Peer, f.Spec != nil, nil
}
