package hub

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net/netip"
	"os"
	"os/exec"
	"time"

	"golang.zx2c4.com/wireguard/conn"
	"golang.zx2c4.com/wireguard/device"
	"golang.zx2c4.com/wireguard/ipc"
	"golang.zx2c4.com/wireguard/tun"
)

type inProcess struct {
	dev  *device.Device
	uapi interface{ Close() error }
}

func (p *inProcess) Close() error {
	err := p.uapi.Close()
	p.dev.Close()
	return err
}

func startDevice(name string, addr netip.Prefix, log *slog.Logger) (io.Closer, error) {
	if _, err := os.Stat("/dev/net/tun"); errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("starting wireguard device %s: /dev/net/tun is missing (load the tun module, or in a container pass --device /dev/net/tun)", name)
	}
	tdev, err := tun.CreateTUN(name, device.DefaultMTU)
	if err != nil {
		return nil, fmt.Errorf("starting wireguard device %s: creating the tun device (needs root or CAP_NET_ADMIN): %w", name, err)
	}
	logf := func(format string, args ...any) { log.Debug(fmt.Sprintf(format, args...), "interface", name) }
	dev := device.NewDevice(tdev, conn.NewDefaultBind(), &device.Logger{Verbosef: logf, Errorf: logf})
	f, err := ipc.UAPIOpen(name)
	if err != nil {
		dev.Close()
		return nil, fmt.Errorf("starting wireguard device %s: opening the uapi socket: %w", name, err)
	}
	l, err := ipc.UAPIListen(name, f)
	if err != nil {
		dev.Close()
		return nil, fmt.Errorf("starting wireguard device %s: listening on the uapi socket: %w", name, err)
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
	p := &inProcess{dev: dev, uapi: l}
	for _, args := range [][]string{{"addr", "replace", addr.String(), "dev", name}, {"link", "set", name, "up"}} {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		out, err := exec.CommandContext(ctx, "ip", args...).CombinedOutput()
		cancel()
		if err != nil {
			_ = p.Close()
			return nil, fmt.Errorf("starting wireguard device %s: ip %v: %w: %s", name, args, err, out)
		}
	}
	return p, nil
}
