package lock

import (
	"context"
	"fmt"
	"os/exec"
)

// lockOS disables every local human user with pwpolicy.
func lockOS(ctx context.Context, o Options) error {
	out, err := exec.CommandContext(ctx, "/usr/bin/dscl", ".", "-list", "/Users", "UniqueID").Output()
	if err != nil {
		return fmt.Errorf("listing the user accounts: %w", err)
	}
	users := DarwinUsers(out)
	if len(users) == 0 {
		return ErrNoUsers
	}
	if err := runAll(ctx, o.Run, DarwinCommands(users)); err != nil {
		return fmt.Errorf("disabling user accounts: %w", err)
	}
	return nil
}
