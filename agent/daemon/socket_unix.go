//go:build !windows

package daemon

import (
	"path/filepath"
)

// DefaultSocket is the agent's local socket under root ("" is /): in the
// run-time directory (/var/run, which is /run on Linux, where systemd's
// RuntimeDirectory=kiwistack makes it writable), not in the state
// directory, which is 0700.
func DefaultSocket(root string) string {
	return filepath.Join(root+"/", "var", "run", "kiwistack", "agent.sock")
}
