package agentpkg

import "context"

// FakeInstaller records the packages it is asked to install, for tests.
type FakeInstaller struct {
	Installed []string
	Err       error // returned by Install when set
}

// Install records path.
func (f *FakeInstaller) Install(_ context.Context, path string) error {
	f.Installed = append(f.Installed, path)
	return f.Err
}
