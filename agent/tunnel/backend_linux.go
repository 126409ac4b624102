package tunnel

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sync"

	"golang.zx2c4.com/wireguard/conn"
	"golang.zx2c4.com/wireguard/device"
	"golang.zx2c4.com/wireguard/ipc"
	"golang.zx2c4.com/wireguard/tun"
)

// newBackend picks the Linux backend: kernel WireGuard when the module
// takes a new link, a NetworkManager connection when NetworkManager owns
// its D-Bus name, otherwise wireguard-go in the agent.
func newBackend(o Options) Backend {
	return &linuxBackend{log: o.Logger, nm: o.NetworkManager, kernel: kernelLink}
}

// linuxBackend chooses on the first Up and keeps that choice.
type linuxBackend struct {
	log *slog.Logger
	// nm reports whether NetworkManager owns its bus name.
	nm func() bool
	// kernel reports whether kernel WireGuard took a new link of that
	// name (kernelLink).
	kernel func(name string) bool

	mu     sync.Mutex
	chosen Backend
}

func (b *linuxBackend) Name() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.chosen == nil {
		return "linux"
	}
	return b.chosen.Name()
}

func (b *linuxBackend) Up(ctx context.Context, s Spec) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.chosen == nil {
		b.chosen = b.choose(s.Interface)
		b.log.Info("tunnel backend chosen", "backend", b.chosen.Name(), "interface", s.Interface)
	}
	return b.chosen.Up(ctx, s)
}

// choose picks the backend for interface name: kernel, then
// NetworkManager, then userspace.
func (b *linuxBackend) choose(name string) Backend {
	switch {
	case b.kernel != nil && b.kernel(name):
		return &kernelBackend{name: name}
	case b.nm != nil && b.nm():
		return &nmBackend{}
	default:
		return &userspaceBackend{log: b.log}
	}
}

// kernelLink makes name a kernel WireGuard link, reporting whether the
// kernel took it (the module is there and we may).
func kernelLink(name string) bool {
	if linkExists(name) {
		// A leftover of an agent that did not stop cleanly: the name is ours.
		_ = ip("link", "del", name)
	}
	return ip("link", "add", name, "type", "wireguard") == nil
}

func (b *linuxBackend) Down() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.chosen == nil {
		return nil
	}
	return b.chosen.Down()
}

func (b *linuxBackend) State() (PeerState, bool, error) {
	b.mu.Lock()
	c := b.chosen
	b.mu.Unlock()
	if c == nil {
		return PeerState{}, false, nil
	}
	return c.State()
}

func linkExists(name string) bool {
	_, err := net.InterfaceByName(name)
	return err == nil
}

// kernelBackend is the kernel's WireGuard, configured through wgctrl.
type kernelBackend struct{ name string }

func (*kernelBackend) Name() string { return "kernel" }

func (k *kernelBackend) Up(_ context.Context, s Spec) error {
	if !linkExists(s.Interface) {
		if err := ip("link", "add", s.Interface, "type", "wireguard"); err != nil {
			return err
		}
	}
	if err := configure(s); err != nil {
		return err
	}
	return addressing(s)
}

func (k *kernelBackend) Down() error {
	if !linkExists(k.name) {
		return nil
	}
	return ip("link", "del", k.name)
}

func (k *kernelBackend) State() (PeerState, bool, error) { return peerState(k.name) }

// userspaceBackend is wireguard-go inside the agent: a TUN device, its
// UAPI socket in /var/run/wireguard (configured through wgctrl like the
// kernel's) and ip(8) for addresses and routes.
type userspaceBackend struct {
	log *slog.Logger

	name string
	dev  *device.Device
	uapi net.Listener
}

func (*userspaceBackend) Name() string { return "userspace" }

func (u *userspaceBackend) Up(_ context.Context, s Spec) error {
	if u.dev == nil {
		if err := u.start(s.Interface); err != nil {
			return err
		}
	}
	if err := configure(s); err != nil {
		return err
	}
	return addressing(s)
}

func (u *userspaceBackend) start(name string) error {
	tdev, err := tun.CreateTUN(name, device.DefaultMTU)
	if err != nil {
		return fmt.Errorf("creating tun device %s (needs root and /dev/net/tun): %w", name, err)
	}
	logf := func(format string, args ...any) { u.log.Debug(fmt.Sprintf(format, args...), "interface", name) }
	dev := device.NewDevice(tdev, conn.NewDefaultBind(), &device.Logger{Verbosef: logf, Errorf: logf})
	f, err := ipc.UAPIOpen(name)
	if err != nil {
		dev.Close()
		return fmt.Errorf("opening the uapi socket of %s: %w", name, err)
	}
	l, err := ipc.UAPIListen(name, f)
	if err != nil {
		dev.Close()
		return fmt.Errorf("listening on the uapi socket of %s: %w", name, err)
	}
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			go dev.IpcHandle(c)
		}
	}()
	u.name, u.dev, u.uapi = name, dev, l
	return nil
}

func (u *userspaceBackend) Down() error {
	if u.dev == nil {
		return nil
	}
	err := u.uapi.Close()
	u.dev.Close()
	u.dev, u.uapi = nil, nil
	return err
}

func (u *userspaceBackend) State() (PeerState, bool, error) {
	if u.dev == nil {
		return PeerState{}, false, errors.New("tunnel is down")
	}
	return peerState(u.name)
}
