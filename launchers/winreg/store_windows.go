//go:build windows

package winreg

import (
	"errors"
	"fmt"

	"golang.org/x/sys/windows/registry"
)

// OpenMachine returns this machine's HKEY_LOCAL_MACHINE, in its 64-bit
// view (where 64-bit Chrome and Chromium read policy). Writing needs an
// administrator.
func OpenMachine() (Store, error) { return machine{}, nil }

type machine struct{}

func (machine) create(key string) (registry.Key, error) {
	k, _, err := registry.CreateKey(registry.LOCAL_MACHINE, key, registry.SET_VALUE|registry.WOW64_64KEY)
	if err != nil {
		return 0, fmt.Errorf("opening %s\\%s: %w", RootName, key, err)
	}
	return k, nil
}

func (m machine) SetString(key, name, value string) error {
	k, err := m.create(key)
	if err != nil {
		return err
	}
	defer k.Close()
	return k.SetStringValue(name, value)
}

func (machine) DeleteValue(key, name string) error {
	k, err := registry.OpenKey(registry.LOCAL_MACHINE, key, registry.SET_VALUE|registry.WOW64_64KEY)
	if errors.Is(err, registry.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("opening %s\\%s: %w", RootName, key, err)
	}
	defer k.Close()
	if err := k.DeleteValue(name); err != nil && !errors.Is(err, registry.ErrNotExist) {
		return err
	}
	return nil
}
