//go:build !windows

package winreg

// OpenMachine returns ErrUnsupported: there is no registry to write here.
// The .reg file (RegFile) is how the values travel to a Windows machine
// from this OS.
func OpenMachine() (Store, error) { return nil, ErrUnsupported }
