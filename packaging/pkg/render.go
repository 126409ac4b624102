package pkg

import (
	"embed"
	"strings"
	"text/template"
	"time"

	"github.com/kiwistack/endpoint/launchers/macos"
	"github.com/kiwistack/endpoint/packaging/internal/render"
)

// Names and paths inside the package and the installed system.
const (
	// Identifier is the component package's identifier (pkgutil --pkgs).
	Identifier = "io.kiwistack.endpoint"
	// ComponentName is the component package's directory in the archive.
	ComponentName = "kiwistack.pkg"
	// MinOS is the oldest macOS the Distribution allows.
	MinOS = "14.0"
	// EnrollPath is where the enroller is installed.
	EnrollPath = "/usr/local/bin/kiwistack-enroll"
	// AgentPath is where launchd and people run the agent: a symbolic link
	// to BundleAgentPath.
	AgentPath = "/usr/local/bin/kiwistack-agent"
	// DispatcherBundle is the URL dispatcher's application bundle
	// (launchers/macos.DispatcherBundle under /).
	DispatcherBundle = "/" + macos.DispatcherBundle
	// BundleAgentPath is the agent binary itself, installed once, as the
	// dispatcher bundle's executable: LaunchServices delivers the get-URL
	// Apple Event to the process it starts from the bundle.
	BundleAgentPath = DispatcherBundle + "/Contents/MacOS/" + macos.DispatcherExecutable
	// BundleInfoPath is the bundle's Info.plist, the same bytes the
	// agent's render writes (macos.DispatcherInfoPlist).
	BundleInfoPath = DispatcherBundle + "/Contents/Info.plist"
	// Label is the agent's launchd label.
	Label = "io.kiwistack.agent"
	// PlistPath is the agent's launchd daemon definition.
	PlistPath = "/Library/LaunchDaemons/" + Label + ".plist"
	// ConfigDir is the configuration directory (platform/paths on darwin).
	ConfigDir = "/Library/Application Support/KiwiStack"
	// ConfigPath is the enroller's configuration; postinstall creates it
	// from DefaultConfigPath when it does not exist.
	ConfigPath = ConfigDir + "/enroll.yaml"
	// DefaultConfigPath is the default configuration the payload carries.
	DefaultConfigPath = ConfigPath + ".default"
	// LogDir holds the agent's log, named in the plist.
	LogDir = "/Library/Logs/KiwiStack"
	// LicensePath is the licence of the installed programs.
	LicensePath = "/usr/local/share/doc/kiwistack/LICENSE"
)

//go:embed files
var filesFS embed.FS

// Data is what the templates in files/ are rendered from.
type Data struct {
	Identifier        string
	Version           string // CFBundle-style, from [Version]
	Describe          string // git describe output, shown in the title
	HostArchitectures string // "x86_64,arm64" for a universal payload
	MinOS             string
	ComponentName     string
	NumberOfFiles     int // payload entries, directories included, as pkgbuild counts
	InstallKBytes     int64
	Label, Service    string // launchd label and its service target system/<label>
	AgentPath         string
	PlistPath         string
	ConfigPath        string
	LogDir            string
	Year              int
}

// DefaultData returns the data the package is built with; the payload's
// numbers are filled in by [Build].
func DefaultData(version, describe string, date time.Time) Data {
	return Data{
		Identifier:        Identifier,
		Version:           version,
		Describe:          describe,
		HostArchitectures: "x86_64,arm64",
		MinOS:             MinOS,
		ComponentName:     ComponentName,
		Label:             Label,
		Service:           "system/" + Label,
		AgentPath:         AgentPath,
		PlistPath:         PlistPath,
		ConfigPath:        ConfigPath,
		LogDir:            LogDir,
		Year:              date.UTC().Year(),
	}
}

// Rendered holds the package's generated files.
type Rendered struct {
	PackageInfo, Distribution []byte
	Plist, Config, License    []byte
	Preinstall, Postinstall   []byte
}

// Render renders every generated file of the package. It is a pure
// function of d.
func Render(d Data) (*Rendered, error) {
	var r Rendered
	if err := templates.Files(d,
		render.Target{Name: "PackageInfo", Dst: &r.PackageInfo},
		render.Target{Name: "Distribution", Dst: &r.Distribution},
		render.Target{Name: Label + ".plist", Dst: &r.Plist},
		render.Target{Name: "enroll.yaml", Dst: &r.Config},
		render.Target{Name: "LICENSE", Dst: &r.License},
		render.Target{Name: "preinstall", Dst: &r.Preinstall},
		render.Target{Name: "postinstall", Dst: &r.Postinstall},
	); err != nil {
		return nil, err
	}
	return &r, nil
}

var templates = render.Templates{
	FS:    filesFS,
	Dir:   "files",
	Funcs: template.FuncMap{"xml": render.XMLEscape, "sh": shQuote},
}

// shQuote quotes s as one word for sh: the scripts interpolate nothing
// else.
func shQuote(s string) string {
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
