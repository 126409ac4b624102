//go:build !linux

package devicetrust

import (
	"os"
	"testing"
)

// TestBrowserDeviceTrust needs Linux mount namespaces and Debian's
// Chromium.
func TestBrowserDeviceTrust(t *testing.T) {
	const reason = "the device-trust browser test needs Linux (mount namespaces, Debian's chromium)"
	if os.Getenv("KIWISTACK_REQUIRE_HW_TESTS") == "1" {
		t.Fatal(reason + ", and KIWISTACK_REQUIRE_HW_TESTS=1")
	}
	t.Skip(reason)
}
