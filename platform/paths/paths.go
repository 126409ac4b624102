// Package paths names where the suite keeps its files on each OS: the step
// directory that holds the device certificate, its key and the tenant root
// (the layout of the step CLI, so `step` commands work against it), and the
// agent's state directory. Every function takes the filesystem root to
// prefix (tests and sandboxes pass a temporary directory; "" means the real
// root). Per-OS values live in paths_linux.go, paths_darwin.go and
// paths_windows.go.
package paths

import "path/filepath"

// Layout is where an enrolled device's files live under one root.
type Layout struct {
	// StepDir is the step CLI's directory ($STEPPATH): certs/, secrets/,
	// config/.
	StepDir string
	// StateDir is the agent's state directory; it holds enrollment.json.
	StateDir string
	// ConfigDir holds the configuration the installer ships (enroll.yaml).
	ConfigDir string
}

// Under returns the layout of this OS under root ("" for the real root).
func Under(root string) Layout {
	return Layout{StepDir: join(root, stepDir), StateDir: join(root, stateDir), ConfigDir: join(root, configDir)}
}

func join(root, p string) string {
	if root == "" {
		return p
	}
	return filepath.Join(root, filepath.FromSlash(volumeLess(p)))
}

// RootCert is the tenant root certificate (PEM, 0644).
func (l Layout) RootCert() string { return filepath.Join(l.StepDir, "certs", "root_ca.crt") }

// DeviceCert is the device certificate followed by its intermediates (PEM, 0644).
func (l Layout) DeviceCert() string { return filepath.Join(l.StepDir, "certs", "device.crt") }

// DeviceKey is the device's private key (PKCS #8 PEM, 0600, in a 0700 directory).
func (l Layout) DeviceKey() string { return filepath.Join(l.StepDir, "secrets", "device.key") }

// StepDefaults is the step CLI's defaults file (ca-url, fingerprint, root).
func (l Layout) StepDefaults() string { return filepath.Join(l.StepDir, "config", "defaults.json") }

// Enrollment is the agent's record of the enrollment (tenant, device id,
// URLs, file paths), written last so that its presence means the other
// files are complete.
func (l Layout) Enrollment() string { return filepath.Join(l.StateDir, "enrollment.json") }

// EnrollConfig is the enroller's configuration shipped by the installer
// (tenant, API URL, root fingerprint).
func (l Layout) EnrollConfig() string { return filepath.Join(l.ConfigDir, "enroll.yaml") }
