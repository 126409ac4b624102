package wipe

import (
	"context"
	"fmt"
)

// wipeOS removes every FileVault user, so that only the recovery key
// (escrowed to Fleet where the tenant runs it) unlocks the disk.
func wipeOS(ctx context.Context, o Options) error {
	out, err := o.Run(ctx, FileVaultListCommand())
	if err != nil {
		return fmt.Errorf("listing FileVault users: %w", err)
	}
	users := FileVaultUsers(out)
	if len(users) == 0 {
		return fmt.Errorf("no FileVault user: %w", ErrNotEncrypted)
	}
	for _, c := range FileVaultCommands(users) {
		if _, err := o.Run(ctx, c); err != nil {
			return fmt.Errorf("removing a FileVault user: %w", err)
		}
	}
	return nil
}
