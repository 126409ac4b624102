//go:build darwin

package appcert

import (
	"fmt"
	"os"
	"path/filepath"
	"syscall"

	"github.com/kiwistack/endpoint/enroll/protocol"
)

// newStore is the macOS store: the user's login keychain.
func newStore(tenant, deviceID string, r Runner) Store {
	return &Keychain{Tenant: tenant, DeviceID: deviceID, Runner: r}
}

// firstMacUID is the first uid macOS gives to people.
const firstMacUID = 501

// localUsers is the people with a home under root's /Users: directories
// owned by a uid from 501 whose name is a valid user name.
func localUsers(root string) ([]User, error) {
	dir := filepath.Join(root, "Users")
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("listing %s: %w", dir, err)
	}
	var out []User
	for _, e := range ents {
		if !e.IsDir() || protocol.CheckUser(e.Name()) != nil {
			continue
		}
		fi, err := e.Info()
		if err != nil {
			continue
		}
		st, ok := fi.Sys().(*syscall.Stat_t)
		if !ok || st.Uid < firstMacUID {
			continue
		}
		out = append(out, User{Name: e.Name(), UID: int(st.Uid), GID: int(st.Gid), Home: filepath.Join(dir, e.Name())})
	}
	return out, nil
}
