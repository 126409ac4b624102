//go:build !linux && !darwin && !windows

package appcert

// newStore is the NSS database, as on Linux (the BSDs' Chromium reads it
// too).
func newStore(tenant, _ string, r Runner) Store { return &NSS{Tenant: tenant, Runner: r} }

// localUsers is the desktop users of root's /etc/passwd.
func localUsers(root string) ([]User, error) { return passwdUsers(root) }
