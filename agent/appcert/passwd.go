//go:build !darwin && !windows

package appcert

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
)

// passwdUsers reads the desktop users from root's /etc/passwd, keeping
// those whose home directory exists.
func passwdUsers(root string) ([]User, error) {
	p := filepath.Join(root, "etc", "passwd")
	b, err := os.ReadFile(p)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil // a sandbox root without accounts
	}
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", p, err)
	}
	us, err := ParsePasswd(b)
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", p, err)
	}
	var out []User
	for _, u := range us {
		if root != "" {
			u.Home = filepath.Join(root, u.Home)
		}
		if fi, err := os.Stat(u.Home); err == nil && fi.IsDir() {
			out = append(out, u)
		}
	}
	return out, nil
}
