//go:build !windows

package ca

import (
	"fmt"
	"io/fs"
)

// checkSecretMode refuses a key or password file that anyone but its owner
// may read or write.
func checkSecretMode(path string, mode fs.FileMode) error {
	if mode.Perm()&0o077 != 0 {
		return fmt.Errorf("%s has mode %04o: it holds a secret, make it readable by its owner only (chmod 600 %s)", path, mode.Perm(), path)
	}
	return nil
}
