// Package fleet is the agent's controller for Fleet's agent (fleetd /
// orbit): when the tenant configuration (protocol.AgentConfig.Fleet) names
// a Fleet server, it writes the configuration fleetd reads on this OS, under
// the agent's root, atomically and only when it changed, and reports whether
// fleetd is installed, configured and running. It never installs, starts or
// restarts fleetd and never logs the enroll secret.
//
// The files follow Fleet's own packaging (github.com/fleetdm/fleet,
// orbit/pkg/packaging), see docs/fleet.md:
//
//   - Linux (linux_shared.go: writeSystemdUnit, envTemplate): the unit
//     /usr/lib/systemd/system/orbit.service reads EnvironmentFile
//     /etc/default/orbit (ORBIT_FLEET_URL, ORBIT_ENROLL_SECRET_PATH,
//     ORBIT_FLEET_CERTIFICATE=/opt/orbit/fleet.pem); the secret is
//     /opt/orbit/secret.txt (0600).
//   - macOS (macos_templates.go: macosLaunchdTemplate): the launchd plist
//     /Library/LaunchDaemons/com.fleetdm.orbit.plist with the same
//     variables under EnvironmentVariables, the secret in
//     /opt/orbit/secret.txt.
//   - Windows (windows_templates.go: windowsWixTemplate): the "Fleet
//     osquery" service's arguments --fleet-url, --enroll-secret-path
//     "C:\Program Files\Orbit\secret.txt" and --fleet-certificate
//     "C:\Program Files\Orbit\fleet.pem"; the agent writes the files and
//     renders the arguments (ServiceArguments), whose application to the
//     service is left to Fleet's installer.
package fleet

import (
	"bytes"
	"encoding/pem"
	"encoding/xml"
	"errors"
	"fmt"
	"net/url"
	"sort"
	"strings"

	"github.com/kiwistack/endpoint/enroll/protocol"
)

// Defaults of Fleet's packaging (orbit/pkg/packaging, fleetctl package)
// that the whole files rendered here repeat.
const (
	UpdateURL      = "https://updates.fleetdm.com"
	Channel        = "stable"
	UpdateInterval = "15m0s"
	// LaunchdLabel is fleetd's launchd label on macOS.
	LaunchdLabel = "com.fleetdm.orbit"
	// WindowsService is fleetd's service name on Windows.
	WindowsService = "Fleet osquery"
)

// File is one file fleetd reads: Path is OS-absolute without a volume
// ("/etc/default/orbit", "/Program Files/Orbit/secret.txt"), joined under
// the agent's root (and on Windows the system drive).
type File struct {
	Path    string
	Content []byte
	Mode    uint32
}

// ErrInvalid wraps every refusal of a Fleet configuration.
var ErrInvalid = errors.New("invalid Fleet configuration")

// Validate checks cfg: an https URL with a host and nothing else that
// fleetd could misread, a one-line secret, and a PEM certificate if any.
func Validate(cfg protocol.FleetConfig) error {
	bad := func(format string, a ...any) error {
		return fmt.Errorf("%w: %s", ErrInvalid, fmt.Sprintf(format, a...))
	}
	if strings.ContainsAny(cfg.URL, " \t\r\n\"'<>&\\") {
		return bad("the Fleet URL %q contains a space, quote or special character", cfg.URL)
	}
	u, err := url.Parse(cfg.URL)
	if err != nil {
		return bad("the Fleet URL %q does not parse: %v", cfg.URL, err)
	}
	if u.Scheme != "https" || u.Host == "" || u.Opaque != "" {
		return bad("the Fleet URL %q is not an https URL with a host", cfg.URL)
	}
	if u.User != nil || u.RawQuery != "" || u.Fragment != "" {
		return bad("the Fleet URL %q carries credentials, a query or a fragment", cfg.URL)
	}
	if cfg.EnrollSecret == "" {
		return bad("the enroll secret is empty")
	}
	for _, r := range cfg.EnrollSecret {
		if r < 0x21 || r == 0x7f || r == '"' || r == '\'' || r == '\\' {
			return bad("the enroll secret contains a space, quote or control character")
		}
	}
	if cfg.Certificate != "" {
		b, _ := pem.Decode([]byte(cfg.Certificate))
		if b == nil || b.Type != "CERTIFICATE" {
			return bad("the Fleet certificate is not a PEM certificate")
		}
	}
	return nil
}

// Paths of fleetd's files on Linux and macOS (Fleet's packaging).
const (
	orbitDir    = "/opt/orbit"
	secretPath  = orbitDir + "/secret.txt"
	certPath    = orbitDir + "/fleet.pem"
	envPath     = "/etc/default/orbit"
	plistPath   = "/Library/LaunchDaemons/" + LaunchdLabel + ".plist"
	windowsDir  = "/Program Files/Orbit"
	windowsExe  = `C:\Program Files\Orbit\bin\orbit\orbit.exe`
	windowsRoot = `C:\Program Files\Orbit\`
)

// Render returns the files fleetd reads on goos ("linux", "darwin",
// "windows"), sorted by path. It is pure: no file is read or written.
func Render(goos string, cfg protocol.FleetConfig) ([]File, error) {
	if err := Validate(cfg); err != nil {
		return nil, err
	}
	var out []File
	dir := orbitDir
	if goos == "windows" {
		dir = windowsDir
	}
	out = append(out, File{Path: dir + "/secret.txt", Content: []byte(cfg.EnrollSecret), Mode: 0o600})
	if cfg.Certificate != "" {
		out = append(out, File{Path: dir + "/fleet.pem", Content: []byte(strings.TrimSpace(cfg.Certificate) + "\n"), Mode: 0o644})
	}
	switch goos {
	case "linux":
		out = append(out, File{Path: envPath, Content: envFile(cfg), Mode: 0o644})
	case "darwin":
		out = append(out, File{Path: plistPath, Content: plist(cfg), Mode: 0o644})
	case "windows":
	default:
		return nil, fmt.Errorf("fleetd is not configured on %s", goos)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Path < out[j].Path })
	return out, nil
}

// envs is fleetd's environment, in the order Fleet's templates write it.
func envs(cfg protocol.FleetConfig) [][2]string {
	e := [][2]string{
		{"ORBIT_UPDATE_URL", UpdateURL},
		{"ORBIT_ORBIT_CHANNEL", Channel},
		{"ORBIT_OSQUERYD_CHANNEL", Channel},
		{"ORBIT_UPDATE_INTERVAL", UpdateInterval},
		{"ORBIT_FLEET_URL", cfg.URL},
	}
	if cfg.Certificate != "" {
		e = append(e, [2]string{"ORBIT_FLEET_CERTIFICATE", certPath})
	}
	return append(e, [2]string{"ORBIT_ENROLL_SECRET_PATH", secretPath})
}

// envFile renders /etc/default/orbit, systemd's EnvironmentFile syntax;
// Validate leaves no character that needs quoting.
func envFile(cfg protocol.FleetConfig) []byte {
	var b bytes.Buffer
	b.WriteString("# Written by kiwistack-agent from the tenant configuration; changes are overwritten.\n")
	for _, kv := range envs(cfg) {
		fmt.Fprintf(&b, "%s=%s\n", kv[0], kv[1])
	}
	return b.Bytes()
}

func xmlText(s string) string {
	var b strings.Builder
	_ = xml.EscapeText(&b, []byte(s))
	return b.String()
}

// plist renders fleetd's launchd property list, as Fleet's
// macosLaunchdTemplate does.
func plist(cfg protocol.FleetConfig) []byte {
	var b bytes.Buffer
	b.WriteString(`<?xml version="1.0" encoding="UTF-8"?>
<!DOCTYPE plist PUBLIC "-//Apple//DTD PLIST 1.0//EN" "http://www.apple.com/DTDs/PropertyList-1.0.dtd">
<plist version="1.0">
<dict>
	<key>EnvironmentVariables</key>
	<dict>
`)
	for _, kv := range envs(cfg) {
		fmt.Fprintf(&b, "\t\t<key>%s</key>\n\t\t<string>%s</string>\n", kv[0], xmlText(kv[1]))
	}
	fmt.Fprintf(&b, `	</dict>
	<key>KeepAlive</key>
	<true/>
	<key>Label</key>
	<string>%s</string>
	<key>ProgramArguments</key>
	<array>
		<string>/opt/orbit/bin/orbit/orbit</string>
	</array>
	<key>RunAtLoad</key>
	<true/>
	<key>StandardErrorPath</key>
	<string>/var/log/orbit/orbit.stderr.log</string>
	<key>StandardOutPath</key>
	<string>/var/log/orbit/orbit.stdout.log</string>
	<key>ThrottleInterval</key>
	<integer>10</integer>
</dict>
</plist>
`, LaunchdLabel)
	return b.Bytes()
}

// ServiceArguments is the Windows service's command line (its ImagePath),
// as Fleet's windowsWixTemplate installs it, for cfg.
func ServiceArguments(cfg protocol.FleetConfig) (string, error) {
	if err := Validate(cfg); err != nil {
		return "", err
	}
	s := fmt.Sprintf(`"%s" --root-dir "%s." --fleet-url "%s"`, windowsExe, windowsRoot, cfg.URL)
	if cfg.Certificate != "" {
		s += fmt.Sprintf(` --fleet-certificate "%sfleet.pem"`, windowsRoot)
	}
	s += fmt.Sprintf(` --enroll-secret-path "%ssecret.txt" --update-url "%s" --orbit-channel "%s" --osqueryd-channel "%s"`,
		windowsRoot, UpdateURL, Channel, Channel)
	return s, nil
}
