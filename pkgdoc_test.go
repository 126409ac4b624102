// Package endpoint_test holds the repository-wide checks that keep the house
// style true: every package has exactly one package doc comment.
package endpoint_test

import (
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestPackageDocs fails when a package has no package doc comment or has
// more than one (STYLE.md, convention 2).
func TestPackageDocs(t *testing.T) {
	dirs := map[string][]string{}
	err := filepath.WalkDir(".", func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			name := d.Name()
			if path != "." && (strings.HasPrefix(name, ".") || name == "testdata" || name == "bin" || name == "dist") {
				return filepath.SkipDir
			}
			return nil
		}
		if strings.HasSuffix(path, ".go") && !strings.HasSuffix(path, "_test.go") {
			dirs[filepath.Dir(path)] = append(dirs[filepath.Dir(path)], path)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(dirs) < 5 {
		t.Fatalf("found only %d packages: is the test running at the module root?", len(dirs))
	}
	for dir, files := range dirs {
		var docs []string
		for _, f := range files {
			src, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			file, err := parser.ParseFile(token.NewFileSet(), f, src, parser.ParseComments|parser.PackageClauseOnly)
			if err != nil {
				t.Fatalf("%s: %v", f, err)
			}
			if file.Doc != nil && strings.TrimSpace(file.Doc.Text()) != "" {
				docs = append(docs, f)
			}
		}
		switch {
		case len(docs) == 0:
			t.Errorf("package %s has no package doc comment: add one (what it owns, what it must not do)", dir)
		case len(docs) > 1:
			t.Errorf("package %s has %d package doc comments (%s): keep exactly one", dir, len(docs), strings.Join(docs, ", "))
		}
	}
}
