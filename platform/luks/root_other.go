//go:build !linux

package luks

// RootDevice is ErrNoRoot off Linux: FileVault and BitLocker are not LUKS.
func RootDevice(string) (string, error) { return "", ErrNoRoot }
