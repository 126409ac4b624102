package deb

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/goreleaser/nfpm/v2"
	nfpmdeb "github.com/goreleaser/nfpm/v2/deb"
	"github.com/goreleaser/nfpm/v2/files"
)

// Depends lists what the package needs at run time: the enroller talks to
// smart cards through pcscd and libpcsclite (linked by cgo on amd64, loaded
// at run time on arm64), and both link the C library.
var Depends = []string{"libc6 (>= 2.34)", "libpcsclite1", "pcscd"}

// Recommends lists what the agent uses when present (apt installs them by
// default; each feature reports in status what it misses): wg(8) for
// inspecting the tunnel; certutil for the app certificates in the desktop
// users' NSS databases (docs/app-certificate.md); cryptsetup for the disk
// recovery-key escrow and the remote wipe (docs/disk-escrow.md); SSSD with
// its LDAP and Kerberos back ends, the PAM and NSS modules and sssctl for
// directory login (docs/directory.md).
var Recommends = []string{"wireguard-tools", "libnss3-tools", "cryptsetup-bin",
	"sssd-ldap", "sssd-krb5", "sssd-tools", "libpam-sss", "libnss-sss"}

// Options describe one package to build.
type Options struct {
	Version    string    // Debian version, from [Version]
	Arch       string    // Debian architecture: amd64 or arm64
	Enroll     string    // path of the built kiwistack-enroll for Arch
	Agent      string    // path of the built kiwistack-agent for Arch
	CommitTime time.Time // file times inside the package and the changelog date
}

// FileName returns the package's file name, kiwistack_<version>_<arch>.deb.
func FileName(version, arch string) string {
	return fmt.Sprintf("%s_%s_%s.deb", Name, version, arch)
}

// Build writes the package described by o to w.
func Build(o Options, w io.Writer) error {
	switch o.Arch {
	case "amd64", "arm64":
	default:
		return fmt.Errorf("building %s: unsupported architecture %q", Name, o.Arch)
	}
	if o.Version == "" {
		return fmt.Errorf("building %s: no version", Name)
	}
	if o.CommitTime.IsZero() {
		return fmt.Errorf("building %s: no commit time", Name)
	}
	for _, p := range []string{o.Enroll, o.Agent} {
		if _, err := os.Stat(p); err != nil {
			return fmt.Errorf("building %s: %w", Name, err)
		}
	}
	r, err := Render(DefaultData(o.Version, o.CommitTime))
	if err != nil {
		return err
	}
	dir, err := os.MkdirTemp("", "kiwistack-deb-")
	if err != nil {
		return fmt.Errorf("building %s: %w", Name, err)
	}
	defer os.RemoveAll(dir)
	staged, err := r.stage(dir)
	if err != nil {
		return err
	}

	mtime := o.CommitTime.UTC()
	file := func(src, dst string, mode os.FileMode, typ string) *files.Content {
		return &files.Content{Source: src, Destination: dst, Type: typ,
			FileInfo: &files.ContentFileInfo{Owner: "root", Group: "root", Mode: mode, MTime: mtime}}
	}
	info := &nfpm.Info{
		Name:          Name,
		Arch:          o.Arch,
		Platform:      "linux",
		Version:       o.Version,
		VersionSchema: "none",
		Section:       "admin",
		Priority:      "optional",
		Maintainer:    "KiwiStack <packaging@kiwistack.example>",
		Description: "device enrollment and agent of the KiwiStack endpoint suite\n" +
			"kiwistack-enroll enrolls this device with a KiwiStack tenant using a\n" +
			"hardware key (PIV smart card); kiwistack-agent keeps the device\n" +
			"certificate renewed, runs the WireGuard tunnel and serves the launchers.",
		Vendor:   "KiwiStack",
		Homepage: "https://github.com/kiwistack/endpoint",
		License:  "Apache-2.0",
		MTime:    mtime,
		Overridables: nfpm.Overridables{
			Depends:    Depends,
			Recommends: Recommends,
			Contents: files.Contents{
				file(o.Enroll, EnrollPath, 0o755, files.TypeFile),
				file(o.Agent, AgentPath, 0o755, files.TypeFile),
				file(staged["unit"], UnitPath, 0o644, files.TypeFile),
				file(staged["config"], ConfigPath, 0o644, files.TypeConfig),
				file(staged["copyright"], DocDir+"/copyright", 0o644, files.TypeFile),
				file(staged["changelog"], DocDir+"/changelog.gz", 0o644, files.TypeFile),
				file(staged["overrides"], OverridesPath, 0o644, files.TypeFile),
			},
			Scripts: nfpm.Scripts{
				PostInstall: staged["postinst"],
				PreRemove:   staged["prerm"],
				PostRemove:  staged["postrm"],
			},
			Deb: nfpm.Deb{Compression: "xz"},
		},
	}
	if err := nfpm.PrepareForPackager(info, "deb"); err != nil {
		return fmt.Errorf("building %s %s %s: %w", Name, o.Version, o.Arch, err)
	}
	if err := nfpmdeb.Default.Package(info, w); err != nil {
		return fmt.Errorf("building %s %s %s: %w", Name, o.Version, o.Arch, err)
	}
	return nil
}

// BuildFile builds the package into dir under [FileName] and returns its path.
func BuildFile(o Options, dir string) (path string, err error) {
	path = filepath.Join(dir, FileName(o.Version, o.Arch))
	f, err := os.Create(path)
	if err != nil {
		return "", fmt.Errorf("building %s: %w", Name, err)
	}
	defer func() {
		if cerr := f.Close(); err == nil && cerr != nil {
			err = fmt.Errorf("building %s: %w", Name, cerr)
		}
		if err != nil {
			os.Remove(path)
		}
	}()
	if err := Build(o, f); err != nil {
		return "", err
	}
	return path, nil
}
