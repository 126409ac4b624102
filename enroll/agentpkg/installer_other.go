//go:build !linux && !darwin && !windows

package agentpkg

import "errors"

func init() {
	NewInstaller = func(InstallerOptions) (Installer, error) {
		return nil, errors.New("installing the agent package is supported on Linux, macOS and Windows only")
	}
}
