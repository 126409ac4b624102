package daemon

// DefaultSocket is the agent's named pipe; root (a test prefix) does not
// apply to pipe names.
func DefaultSocket(root string) string { return `\\.\pipe\kiwistack-agent` }
