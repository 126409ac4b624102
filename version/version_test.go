package version

import (
	"strings"
	"testing"
)

func TestGetUsesLinkerValues(t *testing.T) {
	oldV, oldC, oldD := Version, Commit, Date
	t.Cleanup(func() { Version, Commit, Date = oldV, oldC, oldD })
	Version, Commit, Date = "v1.2.3", "0123456789abcdef0123", "2026-11-28T05:00:00Z"

	got := Get()
	if got.Version != "v1.2.3" || got.Commit != "0123456789abcdef0123" || got.Date != "2026-11-28T05:00:00Z" {
		t.Fatalf("Get() = %+v, want the linker values", got)
	}
	s := got.String()
	for _, want := range []string{"v1.2.3", "commit 0123456789ab,", "built 2026-11-28T05:00:00Z"} {
		if !strings.Contains(s, want) {
			t.Errorf("String() = %q, missing %q", s, want)
		}
	}
}

func TestGetFallsBack(t *testing.T) {
	oldV, oldC, oldD := Version, Commit, Date
	t.Cleanup(func() { Version, Commit, Date = oldV, oldC, oldD })
	Version, Commit, Date = "", "", ""

	got := Get()
	if got.Version == "" || got.Commit == "" || got.Date == "" {
		t.Fatalf("Get() = %+v, want no empty field", got)
	}
}
