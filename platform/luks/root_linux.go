package luks

import (
	"errors"
	"fmt"
	"io/fs"

	"github.com/kiwistack/endpoint/platform/wipe"
)

// RootDevice finds the LUKS device under / (through LVM and other
// device-mapper layers), reading root/proc and root/sys; ErrNoRoot if
// there is none.
func RootDevice(root string) (string, error) {
	dev, err := wipe.RootLUKSDevice(root)
	if errors.Is(err, wipe.ErrNotEncrypted) || errors.Is(err, fs.ErrNotExist) {
		return "", fmt.Errorf("%w: %w", ErrNoRoot, err)
	}
	return dev, err
}
