package agentpkg

import "errors"

func init() {
	NewInstaller = func(o InstallerOptions) (Installer, error) {
		if o.Root != "" {
			return nil, errors.New("--root is supported on Linux only; installer(8) installs onto /")
		}
		return execInstaller{ext: ".pkg", argv: installerCommand, o: o}, nil
	}
}
