//go:build !linux

package hub

import (
	"io"
	"log/slog"
	"net/netip"
)

func startDevice(string, netip.Prefix, *slog.Logger) (io.Closer, error) {
	return nil, ErrNoInProcessDevice
}
