//go:build !(linux && cgo)

package pcsctest

import "testing"

// missing: virtual YubiKeys need pcscd with vpcd and piv-go's cgo binding.
func missing() string {
	if r := missingCommon(); r != "" {
		return r
	}
	return "virtual YubiKey tests need Linux with cgo (pcscd with vpcd, piv-go through libpcsclite)"
}

// Start skips or fails the test: see Require.
func Start(t testing.TB, opts Options) *Key {
	t.Helper()
	Require(t)
	t.Fatal("pcsctest.Start: unreachable, Require should have stopped the test")
	return nil
}
