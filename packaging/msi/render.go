package msi

import (
	"embed"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"text/template"

	"github.com/kiwistack/endpoint/packaging/internal/render"
)

// Names and places inside the installed system.
const (
	// ProductName is the product's name in Apps & features.
	ProductName = "KiwiStack"
	// ServiceName is the agent's Windows service.
	ServiceName = "KiwiStackAgent"
	// InstallDir is where the programs go (ProgramFiles64Folder\KiwiStack).
	InstallDir = `C:\Program Files\KiwiStack`
	// ConfigDir is ProgramData\KiwiStack (platform/paths' configuration
	// directory on Windows), which holds enroll.yaml and the agent's state.
	ConfigDir = `C:\ProgramData\KiwiStack`
	// EnrollName is the enroller's file name.
	EnrollName = "kiwistack-enroll.exe"
	// AgentName is the agent's file name.
	AgentName = "kiwistack-agent.exe"
)

// Component attribute bits (msidbComponentAttributes*).
const (
	attr64bit          = 256
	attrNeverOverwrite = 128
	attrPermanent      = 16
)

// Upgrade table attribute bits (msidbUpgradeAttributes*).
const (
	upgradeMigrateFeatures     = 1
	upgradeVersionMaxInclusive = 512
)

// Failure actions of the agent's service: restart after 5 s, 30 s, then
// every 60 s; the failure count resets after a day without failures.
const (
	failureResetSeconds = 86400
	failureActions      = "1[~]1[~]1" // SC_ACTION_RESTART three times, [~] separates
	failureDelaysMillis = "5000[~]30000[~]60000"
)

//go:embed files
var filesFS embed.FS

var templates = render.Templates{FS: filesFS, Dir: "files", Funcs: template.FuncMap{"x": render.XMLEscape}}

// Data is what the templates in files/ are rendered from.
type Data struct {
	Describe            string // git describe, shown in the package description
	Version             string // ProductVersion, from [ProductVersion]
	ProductCode         string
	UpgradeCode         string
	ConfigComponentGUID string
	Platform            string // wixl --arch: x64
	ProgramFilesFolder  string // ProgramFiles64Folder for x64
	ProductName         string
	Manufacturer        string
	Homepage            string
	ServiceName         string
	ServiceDisplayName  string
	ServiceDescription  string
	ServiceArguments    string
	RegistryKey         string
	InstallDir          string
	ConfigDir           string
	EnrollName          string
	AgentName           string
	Year                int
}

// DefaultData returns the data a package of describe is built with for
// arch (only amd64) in the given copyright year.
func DefaultData(describe, arch string, year int) (Data, error) {
	if arch != "amd64" {
		return Data{}, fmt.Errorf("building the MSI for %q: %w", arch, ErrUnsupportedArch)
	}
	v, err := ProductVersion(describe)
	if err != nil {
		return Data{}, err
	}
	return Data{
		Describe:            strings.TrimSpace(describe),
		Version:             v,
		ProductCode:         ProductCode(describe, arch),
		UpgradeCode:         UpgradeCode,
		ConfigComponentGUID: ConfigComponentGUID,
		Platform:            "x64",
		ProgramFilesFolder:  "ProgramFiles64Folder",
		ProductName:         ProductName,
		Manufacturer:        "KiwiStack",
		Homepage:            "https://github.com/kiwistack/endpoint",
		ServiceName:         ServiceName,
		ServiceDisplayName:  "KiwiStack agent",
		ServiceDescription:  "Keeps the device certificate renewed, runs the WireGuard tunnel and serves the launchers.",
		ServiceArguments:    "run",
		RegistryKey:         `Software\KiwiStack\Installer`,
		InstallDir:          InstallDir,
		ConfigDir:           ConfigDir,
		EnrollName:          EnrollName,
		AgentName:           AgentName,
		Year:                year,
	}, nil
}

// Rendered holds the package's generated files and the table fixups.
type Rendered struct {
	WXS, Config, Readme, License []byte
	// Fixups are SQL statements msibuild runs on wixl's output, in order,
	// for what wixl's WiX dialect cannot say: the service's failure actions
	// (MsiServiceConfigFailureActions and the MsiConfigureServices action),
	// NeverOverwrite and Permanent on enroll.yaml's component, and upgrades
	// of same-version installs (VersionMaxInclusive).
	Fixups []string
}

// Render renders every generated file of the package. It is a pure
// function of d.
func Render(d Data) (*Rendered, error) {
	var r Rendered
	if err := templates.Files(d,
		render.Target{Name: "kiwistack.wxs", Dst: &r.WXS},
		render.Target{Name: "enroll.yaml", Dst: &r.Config},
		render.Target{Name: "README.txt", Dst: &r.Readme},
		render.Target{Name: "LICENSE.txt", Dst: &r.License},
	); err != nil {
		return nil, err
	}
	r.Fixups = fixups(d)
	return &r, nil
}

func fixups(d Data) []string {
	q := func(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }
	return []string{
		"CREATE TABLE `MsiServiceConfigFailureActions` (`MsiServiceConfigFailureActions` CHAR(72) NOT NULL, " +
			"`Name` CHAR(255) NOT NULL, `Event` INT NOT NULL, `ResetPeriod` LONG, `RebootMessage` CHAR(255) LOCALIZABLE, " +
			"`Command` CHAR(255), `Actions` CHAR(255), `DelayActions` CHAR(255), `Component_` CHAR(72) NOT NULL " +
			"PRIMARY KEY `MsiServiceConfigFailureActions`)",
		// Event 1: when the component is installed (a major upgrade installs afresh).
		fmt.Sprintf("INSERT INTO `MsiServiceConfigFailureActions` (`MsiServiceConfigFailureActions`, `Name`, `Event`, "+
			"`ResetPeriod`, `Actions`, `DelayActions`, `Component_`) VALUES ('AgentFailureActions', %s, 1, %d, %s, %s, 'Agent')",
			q(d.ServiceName), failureResetSeconds, q(failureActions), q(failureDelaysMillis)),
		// Between InstallServices (5800) and StartServices (5900).
		"INSERT INTO `InstallExecuteSequence` (`Action`, `Condition`, `Sequence`) VALUES ('MsiConfigureServices', 'VersionNT >= 600', 5850)",
		fmt.Sprintf("UPDATE `Component` SET `Attributes` = %d WHERE `Component` = 'Config'",
			attr64bit|attrNeverOverwrite|attrPermanent),
		// Attributes is part of the Upgrade table's key: replace the row.
		"DELETE FROM `Upgrade` WHERE `ActionProperty` = 'WIX_UPGRADE_DETECTED'",
		fmt.Sprintf("INSERT INTO `Upgrade` (`UpgradeCode`, `VersionMax`, `Attributes`, `ActionProperty`) "+
			"VALUES ('{%s}', %s, %d, 'WIX_UPGRADE_DETECTED')",
			d.UpgradeCode, q(d.Version), upgradeMigrateFeatures|upgradeVersionMaxInclusive),
	}
}

// stage writes the rendered files into dir under the names the WiX source
// gives them.
func (r *Rendered) stage(dir string) error {
	for name, b := range map[string][]byte{
		"kiwistack.wxs": r.WXS, "enroll.yaml": r.Config, "README.txt": r.Readme, "LICENSE.txt": r.License,
	} {
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
			return fmt.Errorf("staging %s: %w", name, err)
		}
	}
	return nil
}
