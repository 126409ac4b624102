// Package agentpkg installs a KiwiStack agent package (.deb, .pkg or .msi)
// only after its detached minisign signature verifies against the release
// key the enroller was built to trust (seed D1 Mesh step 02: "signed binary,
// verified at install"). It runs the OS's own installer directly, never
// through a shell; it does not download packages, choose versions or trust
// any key given at run time.
package agentpkg

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/kiwistack/endpoint/packaging/sign"
)

// ReleaseKey is the release public key the enroller trusts, minisign's
// base64 line, set at link time by `make packages`:
//
//	-X github.com/kiwistack/endpoint/enroll/agentpkg.ReleaseKey=RWQ…
//
// Empty (a plain `go build`) means no package is ever installed.
var ReleaseKey = ""

var (
	// ErrNoTrustedKey means the enroller was built without a release key,
	// or with one it cannot read: it installs nothing.
	ErrNoTrustedKey = errors.New("this enroller was built without a trusted release key, so it installs no package; use an enroller from `make packages` or a release")
	// ErrNotVerified means the package's signature is missing or does not
	// verify against the trusted key: the package was not installed.
	ErrNotVerified = errors.New("the package's signature does not verify against the release key this enroller trusts; it was not installed")
)

// Installer hands a verified package to the operating system's installer.
type Installer interface {
	// Install installs the package at path, which the caller verified.
	Install(ctx context.Context, path string) error
}

// Options says what to install.
type Options struct {
	Package    string    // the .deb, .pkg or .msi
	Signature  string    // its detached signature; default Package + ".minisig"
	TrustedKey string    // base64 public key; default ReleaseKey (tests set it)
	Installer  Installer // default: the OS's, NewInstaller(InstallerOptions)

	InstallerOptions InstallerOptions // for the default Installer
}

// Result is what Install did.
type Result struct {
	Package        string // base name of the installed package
	KeyID          string // the release key that signed it
	TrustedComment string // the signature's trusted comment (time and file name)
}

// Install verifies o.Package against the trusted key before anything
// else, and only then installs it. The package is first copied into a
// private directory and the copy is both verified and installed, so that
// nobody can swap the file between the check and the installer.
func Install(ctx context.Context, o Options) (*Result, error) {
	keyText := o.TrustedKey
	if keyText == "" {
		keyText = ReleaseKey
	}
	if keyText == "" {
		return nil, ErrNoTrustedKey
	}
	key, err := sign.ParsePublicKey([]byte(keyText))
	if err != nil {
		return nil, fmt.Errorf("%w (%w)", ErrNoTrustedKey, err)
	}
	if o.Signature == "" {
		o.Signature = o.Package + sign.Suffix
	}
	dir, err := os.MkdirTemp("", "kiwistack-install-")
	if err != nil {
		return nil, fmt.Errorf("installing %s: %w", o.Package, err)
	}
	defer os.RemoveAll(dir)
	private := filepath.Join(dir, filepath.Base(o.Package))
	if err := copyFile(o.Package, private); err != nil {
		return nil, fmt.Errorf("installing %s: %w", o.Package, err)
	}
	s, err := sign.VerifyFile(key, private, o.Signature)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrNotVerified, err)
	}
	inst := o.Installer
	if inst == nil {
		if inst, err = NewInstaller(o.InstallerOptions); err != nil {
			return nil, err
		}
	}
	if err := inst.Install(ctx, private); err != nil {
		return nil, fmt.Errorf("installing %s: %w", filepath.Base(o.Package), err)
	}
	return &Result{Package: filepath.Base(o.Package), KeyID: key.ID.String(), TrustedComment: s.TrustedComment}, nil
}

func copyFile(src, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}
