package pkg

import (
	"testing"
	"time"
)

func TestVersion(t *testing.T) {
	commit := time.Date(2026, 11, 28, 6, 38, 17, 0, time.UTC)
	for _, c := range []struct{ in, want string }{
		{"v0.1.0", "0.1.0"},
		{"0.1.0", "0.1.0"},
		{"v1.02.3", "1.2.3"},
		{"v0.1.0-3-gabc1234", "0.1.0.3"},
		{"v0.1.0-3-gabc1234-dirty", "0.1.0.3"},
		{"v0.1.0-dirty", "0.1.0"},
		{"v0.1.0-rc1", "0.1.0"},
		{"v0.1.0-rc1-2-gabc1234", "0.1.0.2"},
		{"abc1234", "0.0.20261128.63817"},
		{"abc1234-dirty", "0.0.20261128.63817"},
	} {
		got, err := Version(c.in, commit)
		if err != nil || got != c.want {
			t.Errorf("Version(%q) = %q, %v; want %q", c.in, got, err, c.want)
		}
	}
	for _, bad := range []string{"", "release-1", "v1.2", "v1.2.3-rc 1"} {
		if v, err := Version(bad, commit); err == nil {
			t.Errorf("Version(%q) = %q, want an error", bad, v)
		}
	}
	if _, err := Version("abc1234", time.Time{}); err == nil {
		t.Error("an untagged version without a commit time was mapped")
	}
}
