//go:build !linux && !darwin && !windows

package tunnel

import (
	"context"
	"errors"
)

type unsupported struct{}

func (unsupported) Name() string { return "unsupported" }
func (unsupported) Up(context.Context, Spec) error {
	return errors.New("no tunnel backend on this operating system")
}
func (unsupported) Down() error                     { return nil }
func (unsupported) State() (PeerState, bool, error) { return PeerState{}, false, nil }

func newBackend(Options) Backend { return unsupported{} }
