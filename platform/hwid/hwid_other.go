//go:build !linux && !darwin && !windows

package hwid

import (
	"context"
	"errors"
	"fmt"
	"runtime"
)

func readOS(context.Context) (Fingerprint, error) {
	return Fingerprint{}, fmt.Errorf("reading hardware fingerprint: not supported on %s (pass --hardware-fingerprint to override): %w", runtime.GOOS, errors.ErrUnsupported)
}
