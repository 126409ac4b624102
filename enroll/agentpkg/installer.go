package agentpkg

import (
	"context"
	"fmt"
	"io"
	"os/exec"
	"path/filepath"
	"strings"
)

// InstallerOptions configure the OS's installer.
type InstallerOptions struct {
	// Root installs into another root directory (dpkg --root; Linux only,
	// for tests and image builds). Empty means the running system.
	Root string
	// Stdout and Stderr receive the installer's output (nil: discarded).
	Stdout, Stderr io.Writer
}

// NewInstaller returns the running OS's installer: dpkg on Linux,
// installer(8) on macOS, msiexec on Windows. It is set by the per-OS files.
var NewInstaller func(InstallerOptions) (Installer, error)

// execInstaller runs one program with arguments, never through a shell.
type execInstaller struct {
	ext  string                     // the package format this OS installs
	argv func(path string) []string // the command line for a package
	env  []string                   // nil: the enroller's environment
	o    InstallerOptions
}

func (e execInstaller) Install(ctx context.Context, path string) error {
	if !strings.EqualFold(filepath.Ext(path), e.ext) {
		return fmt.Errorf("%s is not a %s package, the format this system installs", filepath.Base(path), e.ext)
	}
	argv := e.argv(path)
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	cmd.Stdout, cmd.Stderr, cmd.Env = e.o.Stdout, e.o.Stderr, e.env
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("running %s: %w", filepath.Base(argv[0]), err)
	}
	return nil
}

// dpkgCommand is Linux's: dpkg -i, into root when given.
func dpkgCommand(path, root string) []string {
	argv := []string{"/usr/bin/dpkg"}
	if root != "" {
		argv = append(argv, "--root="+root)
	}
	return append(argv, "-i", path)
}

// installerCommand is macOS's: installer(8) onto the boot volume.
func installerCommand(path string) []string {
	return []string{"/usr/sbin/installer", "-pkg", path, "-target", "/"}
}

// msiexecCommand is Windows's: msiexec from systemRoot\System32, quiet,
// without a reboot.
func msiexecCommand(path, systemRoot string) []string {
	return []string{strings.TrimRight(systemRoot, `\`) + `\System32\msiexec.exe`, "/i", path, "/qn", "/norestart"}
}
