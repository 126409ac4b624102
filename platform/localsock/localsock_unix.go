//go:build !windows

package localsock

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"os/user"
	"path/filepath"
	"runtime"
	"strconv"
	"syscall"
)

func defaultPath(root string) string {
	return filepath.Join(root+"/", "var", "run", "kiwistack", "agent.sock")
}

func listen(path string) (net.Listener, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return nil, fmt.Errorf("listening on %s: %w", path, err)
	}
	// A socket left by a killed agent refuses connections: remove it, but
	// never a live one (another agent) or anything that is not a socket.
	if fi, err := os.Lstat(path); err == nil {
		if fi.Mode()&fs.ModeSocket == 0 {
			return nil, fmt.Errorf("listening on %s: a file that is not a socket is in the way", path)
		}
		if c, err := net.Dial("unix", path); err == nil {
			c.Close()
			return nil, fmt.Errorf("listening on %s: another agent is running", path)
		}
		if err := os.Remove(path); err != nil {
			return nil, fmt.Errorf("removing the stale socket %s: %w", path, err)
		}
	}
	l, err := net.Listen("unix", path)
	if err != nil {
		return nil, fmt.Errorf("listening on %s: %w", path, err)
	}
	if err := restrict(path); err != nil {
		l.Close()
		return nil, err
	}
	return l, nil
}

// restrict makes path 0660 and, when running as root, root:<admin group>.
func restrict(path string) error {
	if err := os.Chmod(path, 0o660); err != nil {
		return fmt.Errorf("restricting %s: %w", path, err)
	}
	if os.Geteuid() != 0 {
		return nil
	}
	gid := 0
	if g := adminGroup(); g != "" {
		grp, err := user.LookupGroup(g)
		if err == nil {
			gid, _ = strconv.Atoi(grp.Gid)
		}
	}
	if err := os.Chown(path, 0, gid); err != nil {
		return fmt.Errorf("restricting %s: %w", path, err)
	}
	return nil
}

func dial(ctx context.Context, path string) (net.Conn, error) {
	var d net.Dialer
	c, err := d.DialContext(ctx, "unix", path)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ECONNREFUSED) {
			return nil, fmt.Errorf("connecting to the agent at %s: %w", path, ErrNotRunning)
		}
		return nil, fmt.Errorf("connecting to the agent at %s: %w", path, err)
	}
	return c, nil
}

func adminGroup() string {
	candidates := []string{"sudo", "wheel"}
	if runtime.GOOS == "darwin" {
		candidates = []string{"admin", "wheel"}
	}
	for _, g := range candidates {
		if _, err := user.LookupGroup(g); err == nil {
			return g
		}
	}
	return ""
}
