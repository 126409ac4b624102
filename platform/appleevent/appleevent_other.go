//go:build !darwin

package appleevent

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"time"
)

func receive(context.Context, time.Duration) (string, error) {
	return "", fmt.Errorf("receiving a URL on %s: %w", runtime.GOOS, errors.ErrUnsupported)
}
