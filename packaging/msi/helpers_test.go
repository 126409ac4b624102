package msi

import (
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/kiwistack/endpoint/packaging/internal/pkgtest"
)

// requireTools is pkgtest.RequireTool for programs on PATH, given as
// name=package.
func requireTools(t *testing.T, tools ...string) {
	t.Helper()
	for _, np := range tools {
		name, pkg, _ := strings.Cut(np, "=")
		pkgtest.RequireTool(t, name, pkg)
	}
}

var bins pkgtest.Binaries

// windowsBinaries cross-builds the real enroller and agent for
// windows/amd64 without cgo, as `make packages` does, once per test binary,
// and returns their directory.
func windowsBinaries(t *testing.T) string {
	t.Helper()
	return bins.Dir(t, "kiwistack-msi-bin-", func(dir string) error {
		for _, c := range []string{"kiwistack-enroll", "kiwistack-agent"} {
			if err := pkgtest.GoBuild(c+" for windows", filepath.Join(dir, c+".exe"), "../../cmd/"+c,
				[]string{"GOOS=windows", "GOARCH=amd64", "CGO_ENABLED=0"}); err != nil {
				return err
			}
		}
		return nil
	})
}

// msiTable runs msiinfo export and returns the table's rows (the three
// header lines dropped), each split at tabs.
func msiTable(t *testing.T, msi, table string) [][]string {
	t.Helper()
	out, err := exec.Command("msiinfo", "export", msi, table).Output()
	if err != nil {
		t.Fatalf("msiinfo export %s %s: %v", msi, table, err)
	}
	lines := strings.Split(strings.TrimRight(strings.ReplaceAll(string(out), "\r\n", "\n"), "\n"), "\n")
	if len(lines) < 3 {
		t.Fatalf("msiinfo export %s: %q", table, out)
	}
	var rows [][]string
	for _, l := range lines[3:] {
		rows = append(rows, strings.Split(l, "\t"))
	}
	return rows
}

// msiProperty returns a row of the Property table.
func msiProperty(t *testing.T, msi, name string) string {
	t.Helper()
	for _, r := range msiTable(t, msi, "Property") {
		if len(r) == 2 && r[0] == name {
			return r[1]
		}
	}
	t.Fatalf("%s has no property %s", msi, name)
	return ""
}
