// Package wipe carries out a remote_wipe on the laptop (issue 7, D4
// scenario 02) by making its disk unreadable without recovery material. On
// Linux it destroys every LUKS key slot of the root volume with
// `cryptsetup luksErase --batch-mode DEVICE` and checks with luksDump that
// none is left; on Windows it forces BitLocker recovery of the system drive
// (`manage-bde -forcerecovery C:`, which removes the TPM protectors); on
// macOS it removes every user from FileVault unlock (`fdesetup remove`),
// so that only the recovery key opens the disk. Every command is exec'd
// directly, never through a shell; the command lines are pure functions,
// compiled and tested on every OS.
//
// Where the tenant runs Fleet (seed D4), Fleet's MDM wipe (macOS
// EraseDevice, Windows RemoteWipe) is the authoritative erase and its
// escrowed recovery keys are the only way back; this package is the
// agent-side equivalent for a laptop that fetches the command first. It
// decides nothing: agent/command verifies the signed command and calls
// Wipe. It does not reboot (the agent acknowledges first).
package wipe

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"os/exec"
	"strings"
)

// Options configure Wipe.
type Options struct {
	// Root is the file-system root ("" is /) under which Linux reads
	// proc and sys to find the root volume.
	Root string
	// Device, when set, is the LUKS device (Linux) or volume (Windows) to
	// wipe instead of the root one.
	Device string
	// Run runs one command line and returns its standard output; exec
	// without a shell when nil.
	Run func(ctx context.Context, argv []string) ([]byte, error)
}

// ErrNotEncrypted reports that the root volume is not encrypted the way
// this OS's wipe needs (no LUKS under /, no FileVault user).
var ErrNotEncrypted = errors.New("the system volume is not encrypted")

// Wipe makes the system volume unreadable without recovery material.
func Wipe(ctx context.Context, o Options) error {
	if o.Run == nil {
		o.Run = Exec
	}
	return wipeOS(ctx, o)
}

// Exec runs argv without a shell and returns its standard output; a
// failure carries its standard error.
func Exec(ctx context.Context, argv []string) ([]byte, error) {
	var stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return out, fmt.Errorf("running %s: %w: %s", strings.Join(argv, " "), err, bytes.TrimSpace(stderr.Bytes()))
	}
	return out, nil
}

// LUKSEraseCommand destroys every key slot of the LUKS device.
func LUKSEraseCommand(device string) []string {
	return []string{"cryptsetup", "luksErase", "--batch-mode", device}
}

// LUKSDumpCommand prints the LUKS header of device (KeySlots reads it).
func LUKSDumpCommand(device string) []string {
	return []string{"cryptsetup", "luksDump", device}
}

// BitLockerCommands force BitLocker recovery on volume (e.g. "C:"): the
// TPM protectors are removed and the next boot asks for the recovery key.
func BitLockerCommands(volume string) [][]string {
	return [][]string{{`C:\Windows\System32\manage-bde.exe`, "-forcerecovery", volume}}
}

// FileVaultListCommand lists the users that can unlock FileVault.
func FileVaultListCommand() []string { return []string{"/usr/bin/fdesetup", "list"} }

// FileVaultCommands remove each of users from FileVault unlock.
func FileVaultCommands(users []string) [][]string {
	var out [][]string
	for _, u := range users {
		out = append(out, []string{"/usr/bin/fdesetup", "remove", "-user", u})
	}
	return out
}

// FileVaultUsers parses `fdesetup list` ("name,UUID" lines).
func FileVaultUsers(out []byte) []string {
	var users []string
	for line := range strings.Lines(string(out)) {
		name, _, ok := strings.Cut(strings.TrimSpace(line), ",")
		if ok && name != "" && !strings.HasPrefix(name, "-") {
			users = append(users, name)
		}
	}
	return users
}

// KeySlots counts the key slots in use that `cryptsetup luksDump` prints,
// LUKS2 ("Keyslots:" then "  N: luks2") or LUKS1 ("Key Slot N: ENABLED").
func KeySlots(dump []byte) int {
	n, in := 0, false
	sc := bufio.NewScanner(bytes.NewReader(dump))
	for sc.Scan() {
		line := sc.Text()
		trimmed := strings.TrimSpace(line)
		switch {
		case strings.HasPrefix(line, "Key Slot ") && strings.HasSuffix(trimmed, "ENABLED"):
			n++
		case line == "Keyslots:":
			in = true
		case in && line != "" && line[0] != ' ' && line[0] != '\t':
			in = false // the next section
		case in && (strings.HasPrefix(line, "  ") || strings.HasPrefix(line, "\t")) && !strings.HasPrefix(line, "\t\t") && !strings.HasPrefix(line, "    "):
			if k, _, ok := strings.Cut(trimmed, ":"); ok && k != "" && strings.Trim(k, "0123456789") == "" {
				n++
			}
		}
	}
	return n
}
