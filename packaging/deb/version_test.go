package deb

import (
	"os/exec"
	"testing"
	"time"

	"github.com/kiwistack/endpoint/packaging/internal/pkgtest"
)

func TestVersion(t *testing.T) {
	at := time.Date(2026, 11, 28, 6, 38, 21, 0, time.FixedZone("x", 3600))
	for _, tc := range []struct{ in, want string }{
		{"v0.1.0", "0.1.0"},
		{"0.1.0", "0.1.0"},
		{"v0.1.0-rc1", "0.1.0~rc1"},
		{"v0.1.0-3-gabc1234", "0.1.0+git3.gabc1234"},
		{"v0.1.0-3-gabc1234-dirty", "0.1.0+git3.gabc1234.dirty"},
		{"v0.1.0-rc.2-3-gabc1234", "0.1.0~rc.2+git3.gabc1234"},
		{"v0.1.0-dirty", "0.1.0+dirty"},
		{"b461ce8", "0.0.0~git20261128053821.b461ce8"},
		{"b461ce8-dirty", "0.0.0~git20261128053821.b461ce8.dirty"},
	} {
		t.Run(tc.in, func(t *testing.T) {
			got, err := Version(tc.in, at)
			if err != nil || got != tc.want {
				t.Errorf("Version(%q) = %q, %v; want %q", tc.in, got, err, tc.want)
			}
		})
	}
	for _, bad := range []string{"", "dev", "v1.2", "v1.2.3 extra", "release-1"} {
		if got, err := Version(bad, at); err == nil {
			t.Errorf("Version(%q) = %q, want an error", bad, got)
		}
	}
	if _, err := Version("b461ce8", time.Time{}); err == nil {
		t.Error("an untagged version without a commit time was accepted")
	}
}

// TestVersionOrder checks with dpkg itself that the mapping sorts the way
// the history does.
func TestVersionOrder(t *testing.T) {
	dpkg := pkgtest.RequireTool(t, "dpkg", "dpkg")
	at := time.Date(2026, 11, 28, 0, 0, 0, 0, time.UTC)
	order := []string{"b461ce8", "v0.1.0-rc1", "v0.1.0-rc1-2-gabc", "v0.1.0", "v0.1.0-1-gdef", "v0.1.0-1-gdef-dirty", "v0.1.0-12-g123", "v0.1.1"}
	for i := 1; i < len(order); i++ {
		a, err := Version(order[i-1], at)
		if err != nil {
			t.Fatal(err)
		}
		b, err := Version(order[i], at)
		if err != nil {
			t.Fatal(err)
		}
		if err := exec.Command(dpkg, "--compare-versions", a, "lt", b).Run(); err != nil {
			t.Errorf("dpkg does not sort %s (%s) before %s (%s)", a, order[i-1], b, order[i])
		}
	}
}
