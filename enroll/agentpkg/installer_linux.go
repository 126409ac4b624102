package agentpkg

import "os"

func init() {
	NewInstaller = func(o InstallerOptions) (Installer, error) {
		return execInstaller{
			ext:  ".deb",
			argv: func(path string) []string { return dpkgCommand(path, o.Root) },
			// dpkg wants ldconfig and start-stop-daemon on PATH, which a
			// user's PATH may lack.
			env: append(os.Environ(), "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"),
			o:   o,
		}, nil
	}
}
