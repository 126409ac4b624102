//go:build linux

package appcert

// newStore is the Linux store: the user's NSS database.
func newStore(tenant, _ string, r Runner) Store { return &NSS{Tenant: tenant, Runner: r} }

// localUsers is the desktop users of root's /etc/passwd.
func localUsers(root string) ([]User, error) { return passwdUsers(root) }
