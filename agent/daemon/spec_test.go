package daemon

import (
	"slices"
	"testing"
)

// TestServiceSpecArguments: the installed service runs with the flags the
// install was given, and with none it was not.
func TestServiceSpecArguments(t *testing.T) {
	if got := ServiceSpec("/usr/bin/kiwistack-agent", Options{}).Arguments; !slices.Equal(got, []string{"run"}) {
		t.Errorf("defaults: %q", got)
	}
	got := ServiceSpec("/usr/bin/kiwistack-agent", Options{Root: "/sandbox", Socket: "/run/ks.sock", LUKSDevice: "/dev/nvme0n1p3"}).Arguments
	want := []string{"run", "--root", "/sandbox", "--socket", "/run/ks.sock", "--luks-device", "/dev/nvme0n1p3"}
	if !slices.Equal(got, want) {
		t.Errorf("arguments %q, want %q", got, want)
	}
}
