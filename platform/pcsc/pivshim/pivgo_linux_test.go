package pivshim

import (
	"os"
	"slices"
	"testing"

	"github.com/go-piv/piv-go/v2/piv"
)

// needPCSCD skips the test unless this process is root and pcscd is running
// (scripts/start-pcscd), or fails it when KIWISTACK_REQUIRE_HW_TESTS=1 (make
// test sets it).
func needPCSCD(t *testing.T) {
	t.Helper()
	var why string
	if os.Geteuid() != 0 {
		why = "needs root: scripts/start-pcscd runs pcscd as root with the vpcd reader slots"
	} else if _, err := os.Stat("/run/pcscd/pcscd.comm"); err != nil {
		why = "needs pcscd with the vpcd readers (/run/pcscd/pcscd.comm missing): run scripts/start-pcscd"
	}
	if why == "" {
		return
	}
	if os.Getenv("KIWISTACK_REQUIRE_HW_TESTS") == "1" {
		t.Fatal(why + " (KIWISTACK_REQUIRE_HW_TESTS=1 forbids skipping)")
	}
	t.Skip(why + " (set KIWISTACK_REQUIRE_HW_TESTS=1 to fail instead)")
}

// TestPivGoInProcess runs piv-go in this test binary: through libpcsclite
// and cgo under a plain go test, through the shim and purego under
// `make test-nocgo` (CGO_ENABLED=0 with the overlay). Both must read the
// same.
func TestPivGoInProcess(t *testing.T) {
	needPCSCD(t)
	t.Logf("piv-go binding: %s", binding)

	readers, err := piv.Cards()
	if err != nil {
		t.Fatalf("piv.Cards: %v", err)
	}
	for _, r := range []string{"Virtual PCD 00 00", "Virtual PCD 00 01", "Virtual PCD B 00 00", "Virtual PCD B 00 01"} {
		if !slices.Contains(readers, r) {
			t.Errorf("piv.Cards() = %q, missing %q: run scripts/start-pcscd", readers, r)
		}
	}

	_, err = piv.Open("No Such Reader 00 00")
	const want = "connecting to smart card: the specified reader name is not recognized"
	if err == nil || err.Error() != want {
		t.Errorf("piv.Open(unknown reader) = %v, want %q", err, want)
	}
}
