//go:build !unix

package handoff

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
)

// Exec starts argv[0] with argv and env as a new process, with the current
// standard streams, and returns once it has started; the caller then exits.
// (There is no execve here; Go quotes each argument for the Windows command
// line, so each arrives as one argument.)
func Exec(argv, env []string) error {
	if len(argv) == 0 || !filepath.IsAbs(argv[0]) {
		return ErrNoProgram
	}
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Env = env
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("starting %s: %w", argv[0], err)
	}
	if err := cmd.Process.Release(); err != nil {
		return fmt.Errorf("releasing %s: %w", argv[0], err)
	}
	return nil
}
