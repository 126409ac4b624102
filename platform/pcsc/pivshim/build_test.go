package pivshim

import (
	"debug/elf"
	"debug/macho"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// pivcheck is the test program: a main package that calls piv.Cards and
// drives a YubiKey through piv-go.
const pivcheck = "./testdata/pivcheck"

// overlay runs scripts/pcsc-overlay into a temporary directory and returns
// the overlay file.
func overlay(t *testing.T) string {
	t.Helper()
	root := filepath.Dir(goEnv(t, "GOMOD"))
	out, err := exec.Command(filepath.Join(root, "scripts", "pcsc-overlay"), t.TempDir()).Output()
	if err != nil {
		t.Fatalf("scripts/pcsc-overlay: %v\n%s", err, stderr(err))
	}
	return strings.TrimSpace(string(out))
}

// goCmd runs the go command for goos/goarch with CGO_ENABLED=0.
func goCmd(t *testing.T, goos, goarch string, args ...string) ([]byte, error) {
	t.Helper()
	cmd := exec.Command("go", args...)
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS="+goos, "GOARCH="+goarch, "GOFLAGS=")
	return cmd.CombinedOutput()
}

// buildPivcheck builds pivcheck for goos/goarch without cgo, with the
// overlay, and returns the binary's path.
func buildPivcheck(t *testing.T, ov, goos, goarch string) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "pivcheck-"+goos+"-"+goarch)
	if out, err := goCmd(t, goos, goarch, "build", "-trimpath", "-overlay", ov, "-o", bin, pivcheck); err != nil {
		t.Fatalf("CGO_ENABLED=0 GOOS=%s GOARCH=%s go build -overlay: %v\n%s", goos, goarch, err, out)
	}
	return bin
}

// TestCrossBuild builds and vets a piv-go program for every Unix target of
// `make cross` with CGO_ENABLED=0: with the overlay it must work, without it
// darwin must still fail (else the shim would be in the way of piv-go's own
// binding, and this design needs review).
func TestCrossBuild(t *testing.T) {
	ov := overlay(t)
	for _, tc := range []struct{ goos, goarch string }{
		{"darwin", "amd64"}, {"darwin", "arm64"}, {"linux", "amd64"}, {"linux", "arm64"},
	} {
		t.Run(tc.goos+"/"+tc.goarch, func(t *testing.T) {
			t.Parallel()
			bin := buildPivcheck(t, ov, tc.goos, tc.goarch)
			checkBinary(t, bin, tc.goos, tc.goarch)
			if out, err := goCmd(t, tc.goos, tc.goarch, "vet", "-overlay", ov, pivcheck, "github.com/kiwistack/endpoint/platform/pcsc"); err != nil {
				t.Errorf("CGO_ENABLED=0 GOOS=%s GOARCH=%s go vet -overlay: %v\n%s", tc.goos, tc.goarch, err, out)
			}
			if tc.goos == "darwin" {
				out, err := goCmd(t, tc.goos, tc.goarch, "build", "-o", os.DevNull, pivcheck)
				if err == nil || !strings.Contains(string(out), "undefined: scContext") {
					t.Errorf("without the overlay, want piv-go to fail with undefined: scContext; got err=%v\n%s", err, out)
				}
			}
		})
	}
}

// checkBinary checks the executable format and that the build info records
// no cgo and piv-go replaced by the overlay's directory.
func checkBinary(t *testing.T, bin, goos, goarch string) {
	t.Helper()
	switch goos {
	case "darwin":
		f, err := macho.Open(bin)
		if err != nil {
			t.Fatalf("%s is not Mach-O: %v", bin, err)
		}
		defer f.Close()
		want := map[string]macho.Cpu{"amd64": macho.CpuAmd64, "arm64": macho.CpuArm64}[goarch]
		if f.Cpu != want {
			t.Errorf("%s: Mach-O CPU %v, want %v", bin, f.Cpu, want)
		}
	case "linux":
		f, err := elf.Open(bin)
		if err != nil {
			t.Fatalf("%s is not ELF: %v", bin, err)
		}
		defer f.Close()
		want := map[string]elf.Machine{"amd64": elf.EM_X86_64, "arm64": elf.EM_AARCH64}[goarch]
		if f.Machine != want {
			t.Errorf("%s: ELF machine %v, want %v", bin, f.Machine, want)
		}
	}
	out, err := exec.Command("go", "version", "-m", bin).Output()
	if err != nil {
		t.Fatalf("go version -m %s: %v", bin, err)
	}
	for _, want := range []string{"build\tCGO_ENABLED=0", "dep\tgithub.com/go-piv/piv-go/v2\tv2.6.0", "piv-go\t(devel)"} {
		if !strings.Contains(string(out), want) {
			t.Errorf("go version -m %s lacks %q:\n%s", bin, want, out)
		}
	}
}

func goEnv(t *testing.T, name string) string {
	t.Helper()
	out, err := exec.Command("go", "env", name).Output()
	if err != nil {
		t.Fatalf("go env %s: %v", name, err)
	}
	return strings.TrimSpace(string(out))
}

// stderr returns what a failed command wrote to standard error.
func stderr(err error) string {
	if ee, ok := err.(*exec.ExitError); ok {
		return string(ee.Stderr)
	}
	return ""
}
