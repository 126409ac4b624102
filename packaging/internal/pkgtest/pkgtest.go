// Package pkgtest holds the test helpers the package builders
// (packaging/deb, packaging/msi, packaging/pkg) share: skipping or failing
// when a validator is missing, building the real binaries once per test
// binary, and checking rendered files against golden files. It is for tests
// only; what each builder builds and validates stays in its own tests.
package pkgtest

import (
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"

	"github.com/kiwistack/endpoint/internal/golden"
)

// Require skips the test with why, or fails it when
// KIWISTACK_REQUIRE_HW_TESTS=1 (make test, CI) says it must run.
func Require(t testing.TB, ok bool, why string) {
	t.Helper()
	if ok {
		return
	}
	if os.Getenv("KIWISTACK_REQUIRE_HW_TESTS") == "1" {
		t.Fatalf("%s (KIWISTACK_REQUIRE_HW_TESTS=1: run make test-deps as root)", why)
	}
	t.Skip(why)
}

// RequireTool is [Require] for the program name on PATH, which the Debian
// package pkg provides; it returns the program's path.
func RequireTool(t testing.TB, name, pkg string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	Require(t, err == nil, name+" is not installed (Debian package "+pkg+")")
	return p
}

// Binaries is a directory of binaries built at most once per test binary.
type Binaries struct {
	once sync.Once
	dir  string
	err  error
}

// Dir returns the directory, creating it under the system's temporary
// directory with the name prefix and filling it with build on the first
// call. It fails the test when that did not succeed.
func (b *Binaries) Dir(t testing.TB, prefix string, build func(dir string) error) string {
	t.Helper()
	b.once.Do(func() {
		b.dir, b.err = os.MkdirTemp("", prefix)
		if b.err != nil {
			return
		}
		b.err = build(b.dir)
	})
	if b.err != nil {
		t.Fatal(b.err)
	}
	return b.dir
}

// GoBuild runs go build -trimpath -ldflags='-s -w' with flags first, writing
// the package pkg to out, with env added to the environment. what names
// the binary in the error, which carries the compiler's output.
func GoBuild(what, out, pkg string, env []string, flags ...string) error {
	args := append([]string{"build"}, flags...)
	args = append(args, "-trimpath", "-ldflags=-s -w", "-o", out, pkg)
	cmd := exec.Command("go", args...)
	cmd.Env = append(os.Environ(), env...)
	if o, err := cmd.CombinedOutput(); err != nil {
		return &buildError{what, string(o), err}
	}
	return nil
}

type buildError struct {
	name, out string
	err       error
}

func (e *buildError) Error() string {
	return "building " + e.name + ": " + e.err.Error() + "\n" + e.out
}

func (e *buildError) Unwrap() error { return e.err }

// Artefact is a rendered file and the name of its golden file,
// testdata/<Name>.golden.
type Artefact struct {
	Name string
	Data []byte
}

// CheckGolden compares each artefact with its golden file in a subtest
// named for it; with update set it rewrites the golden files first.
func CheckGolden(t *testing.T, update bool, artefacts ...Artefact) {
	t.Helper()
	for _, a := range artefacts {
		t.Run(a.Name, func(t *testing.T) {
			golden.Check(t, filepath.Join("testdata", a.Name+".golden"), a.Name, a.Data, update)
		})
	}
}
