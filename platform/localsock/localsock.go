// Package localsock is the agent's local endpoint: a unix socket (mode 0660,
// owned by root and the admin group) on Linux and macOS, a named pipe open
// to SYSTEM and Administrators on Windows. Listen, Dial and DefaultPath are
// its API; localsock_unix.go and localsock_windows.go fill them in. It
// carries bytes only: the protocol spoken over it belongs to agent/status.
package localsock

import (
	"context"
	"net"
)

// Listen listens at path (a socket path, or a pipe name on Windows),
// replacing a stale socket left by a killed agent, readable and writable by
// root (SYSTEM) and the admin group only.
func Listen(path string) (net.Listener, error) { return listen(path) }

// DefaultPath is the agent's endpoint under root ("" is the real root): a
// socket in the run-time directory (/var/run, which is /run on Linux, where
// systemd's RuntimeDirectory=kiwistack makes it writable; not the state
// directory, which is 0700), or on Windows a named pipe, to which root does
// not apply.
func DefaultPath(root string) string { return defaultPath(root) }

// Dial connects to the agent listening at path.
func Dial(ctx context.Context, path string) (net.Conn, error) { return dial(ctx, path) }

// AdminGroup returns the group whose members may read the agent's status on
// this system ("" when only root may), chosen from candidates in order by
// whether the group exists.
func AdminGroup() string { return adminGroup() }
