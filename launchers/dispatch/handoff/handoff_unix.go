//go:build unix

package handoff

import (
	"fmt"
	"path/filepath"
	"syscall"
)

// Exec replaces the current process with argv[0] run with argv and env. It
// returns only on failure.
func Exec(argv, env []string) error {
	if len(argv) == 0 || !filepath.IsAbs(argv[0]) {
		return ErrNoProgram
	}
	if err := syscall.Exec(argv[0], argv, env); err != nil {
		return fmt.Errorf("executing %s: %w", argv[0], err)
	}
	return nil
}
