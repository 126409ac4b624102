//go:build !linux && !darwin && !windows

package paths

const (
	stepDir   = "/etc/step"
	stateDir  = "/var/lib/kiwistack"
	configDir = "/etc/kiwistack"
)

func volumeLess(p string) string { return p }
