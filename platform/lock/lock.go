// Package lock carries out a remote_lock on the laptop (issue 7, D4
// scenario 02): it disables local logins for the tenant's users. On Linux
// it writes /etc/nologin (pam_nologin refuses every login but root's) and
// locks and expires each tenant user's account with usermod; on macOS it
// disables each local user with pwpolicy; on Windows it deactivates each
// local user with net user. Every command is exec'd directly, never through
// a shell. The command lines are pure functions, compiled and tested on
// every OS.
//
// It decides nothing: the agent's command controller (agent/command)
// verifies the signed command and calls Lock. It does not touch the tunnel
// (the tunnel controller drops it) nor the disk (platform/wipe).
package lock

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"os/exec"
	"strconv"
	"strings"
)

// Options configure Lock.
type Options struct {
	// Root is the file-system root ("" is /); tests use a sandbox.
	Root string
	// Message is what a refused login shows (/etc/nologin on Linux).
	Message string
	// Run runs one command line; exec without a shell when nil.
	Run func(ctx context.Context, argv []string) error
}

// ErrNoUsers reports that no tenant user was found to lock (the login
// refusal, where the OS has one, is in place all the same).
var ErrNoUsers = errors.New("no tenant user accounts found")

// Lock disables local logins for the tenant's users on this OS.
func Lock(ctx context.Context, o Options) error {
	if o.Run == nil {
		o.Run = Exec
	}
	return lockOS(ctx, o)
}

// Exec runs argv without a shell and returns its combined output in the
// error when it fails.
func Exec(ctx context.Context, argv []string) error {
	out, err := exec.CommandContext(ctx, argv[0], argv[1:]...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("running %s: %w: %s", strings.Join(argv, " "), err, bytes.TrimSpace(out))
	}
	return nil
}

// LinuxCommands are the command lines that lock and expire each of users
// (usermod under root when root is not "" or "/"): a locked password and
// an account expired since 1970-01-02, which also refuses SSH keys.
func LinuxCommands(root string, users []string) [][]string {
	var out [][]string
	for _, u := range users {
		argv := []string{"usermod"}
		if root != "" && root != "/" {
			argv = append(argv, "--root", root)
		}
		out = append(out, append(argv, "--lock", "--expiredate", "1", "--", u))
	}
	return out
}

// DarwinCommands are the command lines that disable each of users.
func DarwinCommands(users []string) [][]string {
	var out [][]string
	for _, u := range users {
		out = append(out, []string{"/usr/bin/pwpolicy", "-u", u, "-disableuser"})
	}
	return out
}

// WindowsCommands are the command lines that deactivate each of users.
func WindowsCommands(users []string) [][]string {
	var out [][]string
	for _, u := range users {
		out = append(out, []string{`C:\Windows\System32\net.exe`, "user", u, "/active:no"})
	}
	return out
}

// TenantUsers returns the human accounts of an /etc/passwd: UID 1000 to
// 59999 with a login shell (not nologin or false), in file order.
func TenantUsers(passwd []byte) []string {
	var out []string
	sc := bufio.NewScanner(bytes.NewReader(passwd))
	for sc.Scan() {
		f := strings.Split(sc.Text(), ":")
		if len(f) < 7 || f[0] == "" || strings.HasPrefix(f[0], "#") || strings.HasPrefix(f[0], "-") {
			continue
		}
		uid, err := strconv.Atoi(f[2])
		if err != nil || uid < 1000 || uid >= 60000 {
			continue
		}
		if sh := f[6]; strings.HasSuffix(sh, "/nologin") || strings.HasSuffix(sh, "/false") {
			continue
		}
		out = append(out, f[0])
	}
	return out
}

// DarwinUsers returns the local human accounts from the output of
// `dscl . -list /Users UniqueID`: UID 501 and up, names not starting with
// an underscore.
func DarwinUsers(dscl []byte) []string {
	var out []string
	for line := range strings.Lines(string(dscl)) {
		f := strings.Fields(line)
		if len(f) != 2 || strings.HasPrefix(f[0], "_") || strings.HasPrefix(f[0], "-") {
			continue
		}
		if uid, err := strconv.Atoi(f[1]); err == nil && uid >= 501 && uid < 60000 {
			out = append(out, f[0])
		}
	}
	return out
}

// runAll runs every command line, going on after a failure, and joins the
// errors.
func runAll(ctx context.Context, run func(context.Context, []string) error, cmds [][]string) error {
	var errs []error
	for _, c := range cmds {
		if err := run(ctx, c); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// WindowsUsers returns the names of a one-name-a-line listing (what
// lock_windows.go's Get-LocalUser prints), skipping blank lines and names
// that could be read as a flag.
func WindowsUsers(out []byte) []string {
	var users []string
	for line := range strings.Lines(string(out)) {
		u := strings.TrimSpace(line)
		if u != "" && !strings.HasPrefix(u, "/") && !strings.HasPrefix(u, "-") {
			users = append(users, u)
		}
	}
	return users
}
