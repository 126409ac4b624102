package pivshim

import (
	"bytes"
	"go/ast"
	"go/build"
	"go/parser"
	"go/printer"
	"go/token"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// shimFile is the overlay source, relative to this package.
const shimFile = "pcsc_purego.go.in"

// cgoFiles are piv-go's files the shim stands in for: with CGO_ENABLED=0
// they drop out of the build because they import "C".
var cgoFiles = []string{"pcsc_unix.go", "pcsc_darwin.go", "pcsc_linux.go"}

// shimHelpers are the shim's own declarations, beyond piv-go's contract.
var shimHelpers = []string{"func scError"}

// TestShimMatchesPivGo checks the contract between the shim and the piv-go
// in go.mod: every type, function and method of piv-go's cgo files that the
// rest of piv-go uses is in the shim with the same signature, and the shim
// declares nothing else. It fails when a piv-go upgrade moves those names.
func TestShimMatchesPivGo(t *testing.T) {
	dir := filepath.Join(moduleDir(t, "github.com/go-piv/piv-go/v2"), "piv")
	fset := token.NewFileSet()
	parse := func(path string) *ast.File {
		t.Helper()
		f, err := parser.ParseFile(fset, path, nil, parser.ParseComments)
		if err != nil {
			t.Fatal(err)
		}
		return f
	}

	// What piv-go compiles next to the shim: the files a darwin or linux
	// build without cgo keeps, tests aside.
	used := map[string]bool{}
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		name := e.Name()
		if !strings.HasSuffix(name, ".go") || strings.HasSuffix(name, "_test.go") || slices.Contains(cgoFiles, name) {
			continue
		}
		if !matchesNoCgo(t, dir, name) {
			continue
		}
		ast.Inspect(parse(filepath.Join(dir, name)), func(n ast.Node) bool {
			if id, ok := n.(*ast.Ident); ok {
				used[id.Name] = true
			}
			return true
		})
	}

	piv := map[string]string{}
	for _, name := range cgoFiles {
		f := parse(filepath.Join(dir, name))
		if !slices.ContainsFunc(f.Imports, func(s *ast.ImportSpec) bool { return s.Path.Value == `"C"` }) {
			t.Errorf("piv-go's %s no longer imports \"C\": it would compile next to the shim; review the shim", name)
		}
		for k, v := range declarations(fset, f) {
			piv[k] = v
		}
	}
	// The contract: types and functions the other files name, and every
	// method of those types.
	want := map[string]string{}
	for k, v := range piv {
		kind, name, _ := strings.Cut(k, " ")
		recv, _, isMethod := strings.Cut(name, ".")
		switch {
		case isMethod && used[recv]:
			want[k] = v
		case !isMethod && used[name] && kind != "method":
			want[k] = v
		}
	}
	if len(want) < 5 {
		t.Fatalf("found only %d declarations piv-go needs from %v: has piv-go changed shape?", len(want), cgoFiles)
	}

	t.Logf("piv-go expects from its cgo files: %v", slices.Sorted(maps.Keys(want)))

	shim := parse(shimFile)
	if got := buildConstraint(shim); got != "(darwin || linux) && !cgo" {
		t.Errorf("shim build constraint = %q, want (darwin || linux) && !cgo", got)
	}
	if shim.Name.Name != "piv" {
		t.Errorf("shim is package %s, want piv", shim.Name.Name)
	}
	have := declarations(fset, shim)
	for k, v := range want {
		switch got, ok := have[k]; {
		case !ok:
			t.Errorf("shim lacks %s%s, which piv-go's other files use", k, v)
		case got != v:
			t.Errorf("shim has %s%s, piv-go's cgo file has %s%s", k, got, k, v)
		}
	}
	for k := range have {
		if _, ok := want[k]; !ok && !slices.Contains(shimHelpers, k) {
			t.Errorf("shim declares %s, which piv-go does not expect: keep the shim to piv-go's contract", k)
		}
	}
}

// declarations maps "type T", "func f" and "method T.m" to the signature (""
// for types, whose fields are the shim's own business).
func declarations(fset *token.FileSet, f *ast.File) map[string]string {
	out := map[string]string{}
	for _, d := range f.Decls {
		switch d := d.(type) {
		case *ast.FuncDecl:
			var sig bytes.Buffer
			printer.Fprint(&sig, fset, d.Type)
			s := strings.TrimPrefix(sig.String(), "func")
			if d.Recv == nil {
				out["func "+d.Name.Name] = s
				continue
			}
			recv := d.Recv.List[0].Type
			if star, ok := recv.(*ast.StarExpr); ok {
				recv = star.X
				s = "(*) " + s
			}
			out["method "+recv.(*ast.Ident).Name+"."+d.Name.Name] = s
		case *ast.GenDecl:
			for _, spec := range d.Specs {
				switch spec := spec.(type) {
				case *ast.TypeSpec:
					out["type "+spec.Name.Name] = ""
				case *ast.ValueSpec:
					for _, n := range spec.Names {
						out[strings.ToLower(d.Tok.String())+" "+n.Name] = ""
					}
				}
			}
		}
	}
	return out
}

// matchesNoCgo reports whether a darwin or a linux build without cgo
// compiles the file.
func matchesNoCgo(t *testing.T, dir, name string) bool {
	t.Helper()
	for _, goos := range []string{"darwin", "linux"} {
		ctx := build.Default
		ctx.GOOS, ctx.CgoEnabled = goos, false
		ok, err := ctx.MatchFile(dir, name)
		if err != nil {
			t.Fatal(err)
		}
		if ok {
			return true
		}
	}
	return false
}

// buildConstraint returns the expression of the file's //go:build line.
func buildConstraint(f *ast.File) string {
	for _, g := range f.Comments {
		for _, c := range g.List {
			if expr, ok := strings.CutPrefix(c.Text, "//go:build "); ok {
				return expr
			}
		}
	}
	return ""
}

// moduleDir is the directory of a module in the build list.
func moduleDir(t *testing.T, path string) string {
	t.Helper()
	out, err := exec.Command("go", "list", "-m", "-f", "{{.Dir}}", path).Output()
	if err != nil {
		t.Fatalf("go list -m %s: %v", path, err)
	}
	dir := strings.TrimSpace(string(out))
	if dir == "" {
		t.Fatalf("go list -m %s: not downloaded: run go mod download", path)
	}
	return dir
}
