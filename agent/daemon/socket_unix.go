//go:build !windows

package daemon

import "github.com/kiwistack/endpoint/platform/localsock"

// DefaultSocket is the agent's local socket under root ("" is /): in the
// run-time directory (/var/run, which is /run on Linux, where systemd's
// RuntimeDirectory=kiwistack makes it writable), not in the state
// directory, which is 0700 (localsock.DefaultPath).
func DefaultSocket(root string) string { return localsock.DefaultPath(root) }
