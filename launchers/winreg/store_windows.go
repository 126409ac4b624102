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

func (m machine) SetDWORD(key, name string, value uint32) error {
	k, err := m.create(key)
	if err != nil {
		return err
	}
	defer k.Close()
	return k.SetDWordValue(name, value)
}

// DeleteKey deletes key and, first, every key below it (RegDeleteKey
// deletes only a key without subkeys). The agent is a 64-bit program, so
// the key deleted is in the 64-bit view, as the ones create opens with
// WOW64_64KEY.
func (machine) DeleteKey(key string) error {
	return deleteTree(key)
}

func deleteTree(key string) error {
	k, err := registry.OpenKey(registry.LOCAL_MACHINE, key, registry.ENUMERATE_SUB_KEYS|registry.WOW64_64KEY)
	if errors.Is(err, registry.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("opening %s\\%s: %w", RootName, key, err)
	}
	subs, err := k.ReadSubKeyNames(-1)
	k.Close()
	if err != nil {
		return fmt.Errorf("listing the subkeys of %s\\%s: %w", RootName, key, err)
	}
	for _, s := range subs {
		if err := deleteTree(key + `\` + s); err != nil {
			return err
		}
	}
	if err := registry.DeleteKey(registry.LOCAL_MACHINE, key); err != nil && !errors.Is(err, registry.ErrNotExist) {
		return fmt.Errorf("deleting %s\\%s: %w", RootName, key, err)
	}
	return nil
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
