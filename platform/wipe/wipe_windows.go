package wipe

import (
	"context"
	"fmt"
	"os"
)

// wipeOS forces BitLocker recovery on the system drive.
func wipeOS(ctx context.Context, o Options) error {
	vol := o.Device
	if vol == "" {
		vol = os.Getenv("SystemDrive")
	}
	if vol == "" {
		vol = "C:"
	}
	for _, c := range BitLockerCommands(vol) {
		if _, err := o.Run(ctx, c); err != nil {
			return fmt.Errorf("forcing BitLocker recovery on %s: %w", vol, err)
		}
	}
	return nil
}
