package tunnel

// newBackend on Windows writes a WireGuard for Windows tunnel file.
func newBackend(o Options) Backend {
	return &profileBackend{dir: o.StateDir, ext: ".conf", render: func(s Spec) ([]byte, error) { return WGQuick(s), nil }}
}
