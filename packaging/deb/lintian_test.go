package deb

import (
	"os/exec"
	"strings"
	"testing"

	"github.com/kiwistack/endpoint/packaging/internal/pkgtest"
)

// TestLintian runs lintian on a package of the real binaries: no error and
// no warning may remain that lintian-overrides does not justify.
func TestLintian(t *testing.T) {
	lintian := pkgtest.RequireTool(t, "lintian", "lintian")
	p := buildTestDeb(t, "0.1.0+git3.gabc1234", t.TempDir())
	out, err := exec.Command(lintian, "--fail-on", "error,warning", "--tag-display-limit", "0", p).CombinedOutput()
	var bad []string
	for _, line := range strings.Split(string(out), "\n") {
		if strings.HasPrefix(line, "E: ") || strings.HasPrefix(line, "W: ") {
			bad = append(bad, line)
		}
	}
	if err != nil || len(bad) > 0 {
		t.Fatalf("lintian %s: %v\n%s", p, err, out)
	}
}
