package deb

import (
	"bytes"
	"compress/gzip"
	"embed"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"github.com/kiwistack/endpoint/packaging/internal/render"
)

// Paths and names inside the installed system.
const (
	// Name is the Debian package name.
	Name = "kiwistack"
	// EnrollPath is where the enroller is installed.
	EnrollPath = "/usr/bin/kiwistack-enroll"
	// AgentPath is where the agent is installed.
	AgentPath = "/usr/bin/kiwistack-agent"
	// UnitName is the agent's systemd unit.
	UnitName = "kiwistack-agent.service"
	// UnitPath is where the unit is installed.
	UnitPath = "/lib/systemd/system/" + UnitName
	// ConfigDir holds the agent's configuration; removed on purge only.
	ConfigDir = "/etc/kiwistack"
	// ConfigPath is the default configuration, a conffile.
	ConfigPath = ConfigDir + "/enroll.yaml"
	// StateDir holds the device's state; removed on purge only.
	StateDir = "/var/lib/kiwistack"
	// DocDir holds the copyright file and the changelog.
	DocDir = "/usr/share/doc/" + Name
	// OverridesPath is where lintian looks for the package's overrides.
	OverridesPath = "/usr/share/lintian/overrides/" + Name
)

//go:embed files lintian-overrides
var filesFS embed.FS

var templates = render.Templates{FS: filesFS, Dir: "files"}

// Data is what the templates in files/ are rendered from.
type Data struct {
	Version   string    // Debian version, for the changelog
	Date      time.Time // commit time: the changelog's date and the copyright year
	AgentPath string
	Unit      string
	StateDir  string
	ConfigDir string
	Year      int
}

// DefaultData returns the data the package is built with.
func DefaultData(version string, date time.Time) Data {
	return Data{
		Version:   version,
		Date:      date.UTC(),
		AgentPath: AgentPath,
		Unit:      UnitName,
		StateDir:  StateDir,
		ConfigDir: ConfigDir,
		Year:      date.UTC().Year(),
	}
}

// Rendered holds the package's generated files, by role.
type Rendered struct {
	Unit, Config, Copyright, Overrides []byte
	Postinst, Prerm, Postrm            []byte
	Changelog                          []byte // gzip'd changelog.Debian
}

// Render renders every generated file of the package. It is a pure
// function of d.
func Render(d Data) (*Rendered, error) {
	var r Rendered
	if err := templates.Files(d,
		render.Target{Name: "kiwistack-agent.service", Dst: &r.Unit},
		render.Target{Name: "enroll.yaml", Dst: &r.Config},
		render.Target{Name: "copyright", Dst: &r.Copyright},
		render.Target{Name: "postinst", Dst: &r.Postinst},
		render.Target{Name: "prerm", Dst: &r.Prerm},
		render.Target{Name: "postrm", Dst: &r.Postrm},
	); err != nil {
		return nil, err
	}
	// The overrides are shipped as written: lintian reads them from the package.
	ov, err := fs.ReadFile(filesFS, "lintian-overrides")
	if err != nil {
		return nil, fmt.Errorf("reading lintian overrides: %w", err)
	}
	r.Overrides = ov
	cl, err := changelog(d)
	if err != nil {
		return nil, err
	}
	r.Changelog = cl
	return &r, nil
}

// changelog renders a one-entry changelog.Debian, gzip'd at maximum
// compression with no name or time in the gzip header, so that the same
// commit gives the same bytes.
func changelog(d Data) ([]byte, error) {
	text := fmt.Sprintf("%s (%s) unstable; urgency=medium\n\n  * Built from the KiwiStack endpoint repository.\n\n -- KiwiStack <packaging@kiwistack.example>  %s\n",
		Name, d.Version, d.Date.Format("Mon, 02 Jan 2006 15:04:05 -0700"))
	var b bytes.Buffer
	zw, err := gzip.NewWriterLevel(&b, gzip.BestCompression)
	if err != nil {
		return nil, fmt.Errorf("compressing changelog: %w", err)
	}
	if _, err := zw.Write([]byte(text)); err != nil {
		return nil, fmt.Errorf("compressing changelog: %w", err)
	}
	if err := zw.Close(); err != nil {
		return nil, fmt.Errorf("compressing changelog: %w", err)
	}
	return b.Bytes(), nil
}

// stage writes the rendered files into dir, under the names Build hands
// to nfpm, and returns dir's paths by role.
func (r *Rendered) stage(dir string) (map[string]string, error) {
	out := map[string]string{}
	for name, b := range map[string][]byte{
		"unit": r.Unit, "config": r.Config, "copyright": r.Copyright,
		"overrides": r.Overrides, "changelog": r.Changelog,
		"postinst": r.Postinst, "prerm": r.Prerm, "postrm": r.Postrm,
	} {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, b, 0o644); err != nil {
			return nil, fmt.Errorf("staging %s: %w", name, err)
		}
		out[name] = p
	}
	return out, nil
}
