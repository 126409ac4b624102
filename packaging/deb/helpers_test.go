package deb

import (
	"path/filepath"
	"testing"
	"time"

	"github.com/kiwistack/endpoint/packaging/internal/pkgtest"
)

var bins pkgtest.Binaries

// builtBinaries builds the real enroller (cgo) and agent (static) for the
// host, as `make build` does, once per test binary, and returns their
// directory.
func builtBinaries(t *testing.T) string {
	t.Helper()
	return bins.Dir(t, "kiwistack-deb-bin-", func(dir string) error {
		for _, c := range []struct{ name, cgo string }{{"kiwistack-enroll", "1"}, {"kiwistack-agent", "0"}} {
			if err := pkgtest.GoBuild(c.name, filepath.Join(dir, c.name), "../../cmd/"+c.name, []string{"CGO_ENABLED=" + c.cgo}); err != nil {
				return err
			}
		}
		return nil
	})
}

// buildTestDeb builds a package of the host's binaries at version into dir.
func buildTestDeb(t *testing.T, version, dir string) string {
	t.Helper()
	bins := builtBinaries(t)
	p, err := BuildFile(Options{
		Version:    version,
		Arch:       "amd64",
		Enroll:     filepath.Join(bins, "kiwistack-enroll"),
		Agent:      filepath.Join(bins, "kiwistack-agent"),
		CommitTime: time.Date(2026, 11, 28, 6, 0, 0, 0, time.UTC),
	}, dir)
	if err != nil {
		t.Fatal(err)
	}
	return p
}
