package appcert

// WindowsCertutil is Windows' certutil.exe.
const WindowsCertutil = "certutil.exe"

// WindowsImportArgs imports a PKCS #12 file into the CurrentUser\My store
// of the account certutil runs as, without adding its root to the user's
// Root store (which would ask the user to confirm).
func WindowsImportArgs(p12, password string) []string {
	return []string{"-user", "-f", "-p", password, "-importPFX", "My", p12, "NoRoot"}
}

// WindowsDeleteArgs deletes the certificate with serial (hex) from the
// CurrentUser\My store.
func WindowsDeleteArgs(serialHex string) []string {
	return []string{"-user", "-delstore", "My", serialHex}
}
