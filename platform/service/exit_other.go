//go:build !windows

package service

// exitOnFailure does nothing off Windows: Run's RunWait returns when the
// Runner does, and the CLI exits non-zero.
func exitOnFailure() {}
