package pkg

import (
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/kiwistack/endpoint/packaging/internal/pkgtest"
)

var testDate = time.Date(2026, 11, 28, 6, 0, 0, 0, time.UTC)

var bins pkgtest.Binaries

// darwinBinaries cross-compiles the real enroller and agent for darwin on
// amd64 and arm64 without cgo, piv-go through the purego overlay as
// scripts/cross does, once per test binary; it returns their directory
// (<arch>/<name>).
func darwinBinaries(t *testing.T) string {
	t.Helper()
	return bins.Dir(t, "kiwistack-pkg-bin-", func(dir string) error {
		out, err := exec.Command("../../scripts/pcsc-overlay", filepath.Join(dir, "overlay")).Output()
		if err != nil {
			return err
		}
		overlay := strings.TrimSpace(string(out))
		for _, arch := range []string{"amd64", "arm64"} {
			for _, c := range []string{"kiwistack-enroll", "kiwistack-agent"} {
				if err := pkgtest.GoBuild(arch+"/"+c, filepath.Join(dir, arch, c), "../../cmd/"+c,
					[]string{"GOOS=darwin", "GOARCH=" + arch, "CGO_ENABLED=0"}, "-overlay", overlay); err != nil {
					return err
				}
			}
		}
		return nil
	})
}

// buildTestPkg builds a universal package of the real binaries into dir.
func buildTestPkg(t *testing.T, describe, dir string) (string, *Built) {
	t.Helper()
	bins := darwinBinaries(t)
	p, b, err := BuildFile(Options{
		Describe:   describe,
		CommitTime: testDate,
		Enroll:     []string{filepath.Join(bins, "amd64/kiwistack-enroll"), filepath.Join(bins, "arm64/kiwistack-enroll")},
		Agent:      []string{filepath.Join(bins, "amd64/kiwistack-agent"), filepath.Join(bins, "arm64/kiwistack-agent")},
	}, dir)
	if err != nil {
		t.Fatal(err)
	}
	return p, b
}
