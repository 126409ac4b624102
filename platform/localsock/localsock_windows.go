package localsock

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net"

	"github.com/Microsoft/go-winio"
)

// pipeSDDL grants full access to SYSTEM and the Administrators group only,
// with no inherited entries.
const pipeSDDL = "D:P(A;;GA;;;SY)(A;;GA;;;BA)"

func defaultPath(string) string { return `\\.\pipe\kiwistack-agent` }

func listen(path string) (net.Listener, error) {
	l, err := winio.ListenPipe(path, &winio.PipeConfig{SecurityDescriptor: pipeSDDL})
	if err != nil {
		return nil, fmt.Errorf("listening on %s: %w", path, err)
	}
	return l, nil
}

func dial(ctx context.Context, path string) (net.Conn, error) {
	c, err := winio.DialPipeContext(ctx, path)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("connecting to the agent at %s: %w", path, ErrNotRunning)
		}
		return nil, fmt.Errorf("connecting to the agent at %s: %w", path, err)
	}
	return c, nil
}

// adminGroup is the Administrators group (BA in the pipe's descriptor).
func adminGroup() string { return "Administrators" }
