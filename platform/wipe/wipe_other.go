//go:build !linux && !darwin && !windows

package wipe

import (
	"context"
	"errors"
)

// wipeOS: this OS has no wipe.
func wipeOS(context.Context, Options) error {
	return errors.ErrUnsupported
}
