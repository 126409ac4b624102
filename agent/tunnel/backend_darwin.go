package tunnel

// newBackend on macOS writes a WireGuard.app configuration profile.
func newBackend(o Options) Backend {
	return &profileBackend{dir: o.StateDir, ext: ".mobileconfig", render: Mobileconfig}
}
