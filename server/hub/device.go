package hub

import (
	"errors"
	"io"
	"log/slog"
	"net/netip"
)

// ErrNoInProcessDevice reports a platform where StartDevice cannot run a
// userspace device; run wireguard-go (or use the kernel's WireGuard) and
// name its interface instead.
var ErrNoInProcessDevice = errors.New("an in-process wireguard device needs Linux")

// StartDevice runs a userspace wireguard-go device called name in this
// process, with its UAPI socket where wgctrl looks (/var/run/wireguard),
// the hub's address addr on it and the link up. It needs root and
// /dev/net/tun. Close stops it and removes the interface.
func StartDevice(name string, addr netip.Prefix, log *slog.Logger) (io.Closer, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return startDevice(name, addr, log)
}
