//go:build !linux

package tunnel

// NetworkManagerRunning is false outside Linux.
func NetworkManagerRunning() bool { return false }
