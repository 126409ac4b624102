//go:build !linux

package wgnetns

import (
	"os"
	"testing"
)

// TestTunnel needs network namespaces, which only Linux has.
func TestTunnel(t *testing.T) {
	const reason = "the WireGuard tunnel test needs Linux network namespaces"
	if os.Getenv("KIWISTACK_REQUIRE_HW_TESTS") == "1" {
		t.Fatal(reason + ", and KIWISTACK_REQUIRE_HW_TESTS=1")
	}
	t.Skip(reason)
}
