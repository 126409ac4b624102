//go:build !linux && !darwin && !windows

package lock

import (
	"context"
	"errors"
)

// lockOS: this OS has no lock.
func lockOS(context.Context, Options) error {
	return errors.ErrUnsupported
}
