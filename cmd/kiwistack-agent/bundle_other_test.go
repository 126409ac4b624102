//go:build !darwin

package main

import "testing"

// Off macOS the agent never turns into the dispatcher app by itself, even
// started with no argument from a path that looks like a bundle's.
func TestLaunchArgsUnchanged(t *testing.T) {
	if got := launchArgs(nil); len(got) != 0 {
		t.Errorf("launchArgs(nil) = %q", got)
	}
}
