//go:build !linux

package tunnel

import (
	"os"
	"testing"
)

// TestClaimTunnelRevoke needs network namespaces, which only Linux has.
func TestClaimTunnelRevoke(t *testing.T) {
	const reason = "the tunnel end-to-end test needs Linux network namespaces"
	if os.Getenv("KIWISTACK_REQUIRE_HW_TESTS") == "1" {
		t.Fatal(reason + ", and KIWISTACK_REQUIRE_HW_TESTS=1")
	}
	t.Skip(reason)
}
