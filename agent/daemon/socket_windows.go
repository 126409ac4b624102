package daemon

import "github.com/kiwistack/endpoint/platform/localsock"

// DefaultSocket is the agent's named pipe; root (a test prefix) does not
// apply to pipe names (localsock.DefaultPath).
func DefaultSocket(root string) string { return localsock.DefaultPath(root) }
