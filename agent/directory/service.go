package directory

import (
	"context"
	"fmt"
	"os"
	"strings"
)

// Systemd restarts sssd.service with systemctl when systemd is PID 1;
// elsewhere it leaves a note that sssd must be restarted.
type Systemd struct {
	// Runner runs systemctl (Exec when nil).
	Runner Runner
}

// Restart implements Service.
func (s Systemd) Restart(ctx context.Context) (string, error) {
	comm, err := os.ReadFile("/proc/1/comm")
	if err != nil || strings.TrimSpace(string(comm)) != "systemd" {
		return "sssd is not managed by systemd here: restart sssd to apply the configuration", nil
	}
	r := s.Runner
	if r == nil {
		r = Exec{}
	}
	if out, err := r.Run(ctx, "systemctl", "restart", "sssd"); err != nil {
		return "", fmt.Errorf("systemctl restart sssd: %w: %s", err, strings.TrimSpace(string(out)))
	}
	return "", nil
}
