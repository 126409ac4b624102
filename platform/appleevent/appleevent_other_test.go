//go:build !darwin

package appleevent

import (
	"context"
	"errors"
	"testing"
	"time"
)

// Off macOS there is nothing to receive from, and Receive says so at once.
func TestReceiveUnsupported(t *testing.T) {
	start := time.Now()
	if _, err := Receive(context.Background(), time.Minute); !errors.Is(err, errors.ErrUnsupported) {
		t.Errorf("Receive: %v, want errors.ErrUnsupported", err)
	}
	if time.Since(start) > time.Second {
		t.Errorf("Receive waited")
	}
}
