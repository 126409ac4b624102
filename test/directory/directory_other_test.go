//go:build !linux

package directory

import (
	"os"
	"testing"
)

// TestDirectoryLogin needs network namespaces and SSSD, which only Linux
// has.
func TestDirectoryLogin(t *testing.T) {
	const reason = "the directory login test needs Linux network namespaces and SSSD"
	if os.Getenv("KIWISTACK_REQUIRE_HW_TESTS") == "1" {
		t.Fatal(reason + ", and KIWISTACK_REQUIRE_HW_TESTS=1")
	}
	t.Skip(reason)
}
