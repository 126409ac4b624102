package msi

import (
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"
)

// ErrUnsupportedArch is returned for architectures wixl cannot target:
// wixl --arch knows x86 and x64 only, so there is no arm64 MSI.
var ErrUnsupportedArch = errors.New("wixl builds x86 and x64 packages only (amd64)")

// Options describe one package to build.
type Options struct {
	Describe   string    // git describe --tags --always --dirty
	Arch       string    // Go architecture: amd64
	Enroll     string    // path of kiwistack-enroll.exe built for windows/Arch
	Agent      string    // path of kiwistack-agent.exe built for windows/Arch
	CommitTime time.Time // its year is the licence's copyright year
	// Signer signs both programs before they are packed and then the
	// package; nil builds an unsigned package.
	Signer *Signer
}

// FileName returns the package's file name,
// kiwistack-<describe without its leading v>-<arch>.msi.
func FileName(describe, arch string) string {
	return fmt.Sprintf("kiwistack-%s-%s.msi", strings.TrimPrefix(strings.TrimSpace(describe), "v"), arch)
}

// lookTool finds a program on PATH or says which Debian package has it.
func lookTool(name, pkg string) (string, error) {
	p, err := exec.LookPath(name)
	if err != nil {
		return "", fmt.Errorf("%s not found (Debian package %s; scripts/install-test-deps installs it): %w", name, pkg, err)
	}
	return p, nil
}

// BuildFile builds the package described by o into dir under [FileName]
// and returns its path.
func BuildFile(o Options, dir string) (path string, err error) {
	if o.CommitTime.IsZero() {
		return "", fmt.Errorf("building the MSI: no commit time")
	}
	d, err := DefaultData(o.Describe, o.Arch, o.CommitTime.UTC().Year())
	if err != nil {
		return "", err
	}
	r, err := Render(d)
	if err != nil {
		return "", err
	}
	wixl, err := lookTool("wixl", "wixl")
	if err != nil {
		return "", err
	}
	msibuild, err := lookTool("msibuild", "msitools")
	if err != nil {
		return "", err
	}
	stage, err := os.MkdirTemp("", "kiwistack-msi-")
	if err != nil {
		return "", fmt.Errorf("building the MSI: %w", err)
	}
	defer os.RemoveAll(stage)
	if err := r.stage(stage); err != nil {
		return "", err
	}
	for _, b := range []struct{ src, name string }{{o.Enroll, EnrollName}, {o.Agent, AgentName}} {
		dst := filepath.Join(stage, b.name)
		if o.Signer != nil {
			err = o.Signer.Sign(b.src, dst)
		} else {
			err = copyFile(b.src, dst)
		}
		if err != nil {
			return "", fmt.Errorf("building the MSI: %w", err)
		}
	}

	unsigned := filepath.Join(stage, "kiwistack.msi")
	cmd := exec.Command(wixl, "--arch", d.Platform, "-o", unsigned, "kiwistack.wxs")
	cmd.Dir = stage
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("building the MSI: wixl: %w\n%s", err, out)
	} else if len(out) > 0 {
		// wixl warns about attributes it ignores; the WiX source uses none.
		return "", fmt.Errorf("building the MSI: wixl warned:\n%s", out)
	}
	for _, q := range r.Fixups {
		if out, err := exec.Command(msibuild, unsigned, "-q", q).CombinedOutput(); err != nil {
			return "", fmt.Errorf("building the MSI: msibuild -q %q: %w\n%s", q, err, out)
		}
	}

	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", fmt.Errorf("building the MSI: %w", err)
	}
	path = filepath.Join(dir, FileName(o.Describe, o.Arch))
	if o.Signer != nil {
		os.Remove(path) // osslsigncode refuses to overwrite nothing, but not a stale file
		err = o.Signer.Sign(unsigned, path)
	} else {
		err = copyFile(unsigned, path)
	}
	if err != nil {
		return "", fmt.Errorf("building the MSI: %w", err)
	}
	return path, nil
}

func copyFile(src, dst string) (err error) {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return err
	}
	defer func() {
		if cerr := out.Close(); err == nil {
			err = cerr
		}
	}()
	_, err = io.Copy(out, in)
	return err
}
