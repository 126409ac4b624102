//go:build !linux

package kerberossso

import (
	"os"
	"testing"
)

// TestKerberosSSO needs network and mount namespaces, which only Linux has.
func TestKerberosSSO(t *testing.T) {
	const reason = "the Kerberos SSO proof needs Linux network and mount namespaces"
	if os.Getenv("KIWISTACK_REQUIRE_HW_TESTS") == "1" {
		t.Fatal(reason + ", and KIWISTACK_REQUIRE_HW_TESTS=1")
	}
	t.Skip(reason)
}
