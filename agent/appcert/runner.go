package appcert

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os/exec"
	"strings"
	"time"
)

// commandTimeout bounds one run of a store's tool.
const commandTimeout = 30 * time.Second

// Runner runs a store's tool as a user: argv only, never through a shell.
type Runner interface {
	// Run runs name with args as u (its uid, gid and HOME), with stdin,
	// and returns its standard output; a failure wraps the tool's
	// standard error.
	Run(ctx context.Context, u User, stdin []byte, name string, args ...string) ([]byte, error)
}

// ExecRunner runs the tools with os/exec, dropping to the user's ids where
// the OS allows (credential, per OS).
type ExecRunner struct{}

// Run implements Runner.
func (ExecRunner) Run(ctx context.Context, u User, stdin []byte, name string, args ...string) ([]byte, error) {
	ctx, cancel := context.WithTimeout(ctx, commandTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Env = []string{"PATH=/usr/bin:/bin:/usr/sbin:/sbin", "HOME=" + u.Home, "LC_ALL=C"}
	cmd.Dir = u.Home
	setCredential(cmd, u)
	if stdin != nil {
		cmd.Stdin = bytes.NewReader(stdin)
	}
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		msg := strings.TrimSpace(stderr.String())
		if len(msg) > 500 {
			msg = msg[:500]
		}
		var ee *exec.ExitError
		if errors.As(err, &ee) && msg != "" {
			return stdout.Bytes(), fmt.Errorf("%s %s: %w: %s", name, firstArg(args), err, msg)
		}
		return stdout.Bytes(), fmt.Errorf("%s %s: %w", name, firstArg(args), err)
	}
	return stdout.Bytes(), nil
}

// firstArg names a command's action in errors (never its input).
func firstArg(args []string) string {
	if len(args) == 0 {
		return ""
	}
	return args[0]
}

// handOver gives file, then its directory, to u (file first: u cannot
// plant a link in a directory that is not yet its own).
func handOver(u User, file, dir string) error {
	if err := chown(file, u); err != nil {
		return err
	}
	return chown(dir, u)
}
