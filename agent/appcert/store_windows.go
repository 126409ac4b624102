//go:build windows

package appcert

import (
	"fmt"
	"os/user"
	"path/filepath"
	"strings"
)

// newStore is the Windows store: CurrentUser\My.
func newStore(tenant, deviceID string, r Runner) Store {
	return &WindowsStore{Tenant: tenant, DeviceID: deviceID, Runner: r}
}

// localUsers is the account the agent runs as: certutil -user writes the
// CurrentUser store of the calling account (docs/app-certificate.md).
func localUsers(string) ([]User, error) {
	u, err := user.Current()
	if err != nil {
		return nil, fmt.Errorf("looking up the current account: %w", err)
	}
	name := strings.ToLower(u.Username)
	if i := strings.LastIndexByte(name, '\\'); i >= 0 {
		name = name[i+1:]
	}
	name = strings.ReplaceAll(name, " ", "_")
	return []User{{Name: name, UID: -1, GID: -1, Home: filepath.Clean(u.HomeDir)}}, nil
}
