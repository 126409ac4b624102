//go:build unix

package appcert

import (
	"os"
	"os/exec"
	"syscall"
)

// setCredential runs cmd with u's uid and gid (and no supplementary
// groups) when the agent runs as another user and u has ids.
func setCredential(cmd *exec.Cmd, u User) {
	if u.UID < 0 || u.GID < 0 || u.UID == os.Getuid() {
		return
	}
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: uint32(u.UID), Gid: uint32(u.GID), Groups: []uint32{}}}
}

// chown hands path to u when the agent runs as root and u has ids.
func chown(path string, u User) error {
	if u.UID < 0 || u.GID < 0 || os.Getuid() != 0 {
		return nil
	}
	return os.Chown(path, u.UID, u.GID)
}
