// Package localsock is the agent's local endpoint: a unix socket (mode 0660,
// owned by root and the admin group) on Linux and macOS, a named pipe open
// to SYSTEM and Administrators on Windows. Listen and Dial are its API;
// localsock_unix.go and localsock_windows.go fill them in. It carries bytes
// only: the protocol spoken over it belongs to agent/status.
package localsock

import (
	"context"
	"net"
)

// Listen listens at path (a socket path, or a pipe name on Windows),
// replacing a stale socket left by a killed agent, readable and writable by
// root (SYSTEM) and the admin group only.
func Listen(path string) (net.Listener, error) { return listen(path) }

// Dial connects to the agent listening at path.
func Dial(ctx context.Context, path string) (net.Conn, error) { return dial(ctx, path) }

// AdminGroup returns the group whose members may read the agent's status on
// this system ("" when only root may), chosen from candidates in order by
// whether the group exists.
func AdminGroup() string { return adminGroup() }
