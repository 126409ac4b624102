//go:build darwin || windows

package tunnel

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"

	"github.com/kiwistack/endpoint/internal/atomicfile"
)

// profileBackend writes the tunnel as a profile for the OS's WireGuard app
// (render: Mobileconfig on macOS, WGQuick on Windows) into dir, 0600; the
// app runs the tunnel, so State cannot tell the handshake.
type profileBackend struct {
	dir, ext string
	render   func(Spec) ([]byte, error)
	written  []byte
	path     string
}

func (*profileBackend) Name() string { return "profile" }

func (p *profileBackend) Up(_ context.Context, s Spec) error {
	b, err := p.render(s)
	if err != nil {
		return err
	}
	if bytes.Equal(b, p.written) {
		return nil
	}
	path := filepath.Join(p.dir, s.Interface+p.ext)
	if err := atomicfile.WriteFile(path, b, 0o600); err != nil {
		return fmt.Errorf("writing the tunnel profile: %w", err)
	}
	p.written, p.path = b, path
	return nil
}

func (p *profileBackend) Down() error {
	if p.path == "" {
		return nil
	}
	err := os.Remove(p.path)
	p.written, p.path = nil, ""
	if os.IsNotExist(err) {
		return nil
	}
	return err
}

func (*profileBackend) State() (PeerState, bool, error) { return PeerState{}, false, nil }
