package agentpkg

import (
	"errors"
	"os"
)

func init() {
	NewInstaller = func(o InstallerOptions) (Installer, error) {
		if o.Root != "" {
			return nil, errors.New("--root is supported on Linux only; msiexec installs into Program Files")
		}
		systemRoot := os.Getenv("SystemRoot")
		if systemRoot == "" {
			systemRoot = `C:\Windows`
		}
		return execInstaller{ext: ".msi", argv: func(path string) []string { return msiexecCommand(path, systemRoot) }, o: o}, nil
	}
}
