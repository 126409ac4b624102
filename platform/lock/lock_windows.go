package lock

import (
	"context"
	"fmt"
	"os/exec"
)

// lockOS deactivates every enabled local user that is not built in.
func lockOS(ctx context.Context, o Options) error {
	// One name per line, without the table net user prints.
	out, err := exec.CommandContext(ctx, `C:\Windows\System32\WindowsPowerShell\v1.0\powershell.exe`, "-NoProfile", "-NonInteractive",
		"-Command", "Get-LocalUser | Where-Object { $_.Enabled -and $_.SID.Value -notmatch '-50[0-3]$' } | ForEach-Object { $_.Name }").Output()
	if err != nil {
		return fmt.Errorf("listing the user accounts: %w", err)
	}
	users := WindowsUsers(out)
	if len(users) == 0 {
		return ErrNoUsers
	}
	if err := runAll(ctx, o.Run, WindowsCommands(users)); err != nil {
		return fmt.Errorf("deactivating user accounts: %w", err)
	}
	return nil
}
