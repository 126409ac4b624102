// Package service puts the agent under the OS service manager through
// github.com/kardianos/service: systemd on Linux, launchd on macOS, the
// Service Control Manager on Windows. The definitions themselves are
// rendered here, as pure functions from a Spec to bytes (SystemdUnit,
// LaunchdPlist, WindowsDefinition), so that tests check them with the real
// validators on any OS, and handed to kardianos as its custom templates and
// options (Config).
//
// It owns the service definitions and the service-manager calls; it does
// not know what the agent does when it runs.
package service

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"

	kservice "github.com/kardianos/service"
)

// Spec is what every service definition is made of.
type Spec struct {
	// Name is the unit, launchd label and Windows service name.
	Name string
	// DisplayName and Description are shown by the service manager.
	DisplayName, Description string
	// Executable is the agent's absolute path.
	Executable string
	// Arguments follow Executable ("run", flags).
	Arguments []string
	// StateDir and ConfigDir are the directories the agent writes (the
	// systemd unit's ReadWritePaths).
	StateDir, ConfigDir string
	// StepDir is the step CLI's directory the agent renews the certificate
	// in.
	StepDir string
}

// LaunchdLabel is the launchd label (reverse DNS) of a Spec's Name.
func (s Spec) LaunchdLabel() string { return "org.kiwistack." + s.Name }

// SystemdUnit renders the systemd unit: the .deb's hardening (no new
// privileges, read-only system, protected home, private /tmp, restart on
// failure), writable state, configuration, step directory and a run-time
// directory for the status socket.
func SystemdUnit(s Spec) []byte {
	var b bytes.Buffer
	w := func(format string, a ...any) { fmt.Fprintf(&b, format+"\n", a...) }
	w("# The KiwiStack agent, installed by `%s install`.", s.Name)
	w("[Unit]")
	w("Description=%s", s.Description)
	w("Documentation=https://github.com/kiwistack/endpoint")
	w("Wants=network-online.target")
	w("After=network-online.target")
	w("ConditionFileIsExecutable=%s", systemdEscape(s.Executable))
	w("")
	w("[Service]")
	w("Type=simple")
	args := []string{systemdEscape(s.Executable)}
	for _, a := range s.Arguments {
		args = append(args, systemdEscape(a))
	}
	w("ExecStart=%s", strings.Join(args, " "))
	w("Restart=on-failure")
	w("RestartSec=5s")
	w("RuntimeDirectory=kiwistack")
	w("RuntimeDirectoryMode=0755")
	w("")
	w("NoNewPrivileges=yes")
	w("ProtectSystem=strict")
	w("ReadWritePaths=%s %s -%s", systemdEscape(s.StateDir), systemdEscape(s.ConfigDir), systemdEscape(s.StepDir))
	w("ProtectHome=yes")
	w("PrivateTmp=yes")
	w("ProtectKernelModules=yes")
	w("ProtectKernelLogs=yes")
	w("ProtectControlGroups=yes")
	w("RestrictSUIDSGID=yes")
	w("LockPersonality=yes")
	w("")
	w("[Install]")
	w("WantedBy=multi-user.target")
	return b.Bytes()
}

// systemdEscape quotes a word of a unit line when it needs it.
func systemdEscape(s string) string {
	if s != "" && !strings.ContainsAny(s, " \t\"'\\%$;") {
		return s
	}
	r := strings.NewReplacer(`\`, `\\`, `"`, `\"`, `%`, `%%`, `$`, `$$`)
	return `"` + r.Replace(s) + `"`
}

// LaunchdPlist renders the launchd daemon's property list
// (/Library/LaunchDaemons/<label>.plist): run at load, kept alive after a
// failure, logs under /Library/Logs/KiwiStack.
func LaunchdPlist(s Spec) []byte {
	var b bytes.Buffer
	b.WriteString(`<?xml version="1.0" encoding="UTF-8"?>
<!DOCTYPE plist PUBLIC "-//Apple//DTD PLIST 1.0//EN" "http://www.apple.com/DTDs/PropertyList-1.0.dtd">
<plist version="1.0">
<dict>
`)
	kv := func(k, v string) {
		fmt.Fprintf(&b, "\t<key>%s</key>\n\t<string>%s</string>\n", xmlEscape(k), xmlEscape(v))
	}
	kv("Label", s.LaunchdLabel())
	b.WriteString("\t<key>ProgramArguments</key>\n\t<array>\n")
	for _, a := range append([]string{s.Executable}, s.Arguments...) {
		fmt.Fprintf(&b, "\t\t<string>%s</string>\n", xmlEscape(a))
	}
	b.WriteString("\t</array>\n")
	b.WriteString("\t<key>RunAtLoad</key>\n\t<true/>\n")
	b.WriteString("\t<key>KeepAlive</key>\n\t<dict>\n\t\t<key>SuccessfulExit</key>\n\t\t<false/>\n\t</dict>\n")
	b.WriteString("\t<key>ThrottleInterval</key>\n\t<integer>5</integer>\n")
	b.WriteString("\t<key>ProcessType</key>\n\t<string>Background</string>\n")
	kv("StandardOutPath", "/Library/Logs/KiwiStack/"+s.Name+".log")
	kv("StandardErrorPath", "/Library/Logs/KiwiStack/"+s.Name+".log")
	b.WriteString("</dict>\n</plist>\n")
	return b.Bytes()
}

func xmlEscape(s string) string {
	return strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;", `"`, "&quot;", "'", "&apos;").Replace(s)
}

// WindowsService is the Windows service definition as the Service Control
// Manager receives it through kardianos (mgr.Config and its recovery
// actions).
type WindowsService struct {
	Name             string   `json:"name"`
	DisplayName      string   `json:"display_name"`
	Description      string   `json:"description"`
	Executable       string   `json:"executable"`
	Arguments        []string `json:"arguments"`
	StartType        string   `json:"start_type"`
	DelayedAutoStart bool     `json:"delayed_auto_start"`
	// OnFailure is the recovery action; OnFailureDelay its delay (a Go
	// duration); OnFailureResetPeriod resets the failure count (seconds).
	OnFailure            string `json:"on_failure"`
	OnFailureDelay       string `json:"on_failure_delay"`
	OnFailureResetPeriod int    `json:"on_failure_reset_period"`
}

// WindowsDefinition returns the Windows service definition: automatic
// (delayed) start as LocalSystem, restart 5 s after a failure.
func WindowsDefinition(s Spec) WindowsService {
	return WindowsService{
		Name: s.Name, DisplayName: s.DisplayName, Description: s.Description,
		Executable: s.Executable, Arguments: s.Arguments,
		StartType: "automatic", DelayedAutoStart: true,
		OnFailure: "restart", OnFailureDelay: "5s", OnFailureResetPeriod: 86400,
	}
}

// JSON renders the definition for review and golden tests.
func (w WindowsService) JSON() []byte {
	b, _ := json.MarshalIndent(w, "", "  ")
	return append(b, '\n')
}

// Config returns the kardianos configuration of s: the rendered systemd
// unit and launchd plist as its custom templates (they contain no template
// actions, so kardianos writes them as they are), the Windows definition as
// its options.
func Config(s Spec) *kservice.Config {
	w := WindowsDefinition(s)
	return &kservice.Config{
		Name: s.Name, DisplayName: s.DisplayName, Description: s.Description,
		Executable: s.Executable, Arguments: s.Arguments,
		Option: kservice.KeyValue{
			"SystemdScript": string(SystemdUnit(s)),
			"LaunchdConfig": string(LaunchdPlist(s)),
			"KeepAlive":     true,
			"RunAtLoad":     true,
			// Windows, see kardianos' service_windows.go.
			"StartType":              w.StartType,
			"DelayedAutoStart":       w.DelayedAutoStart,
			"OnFailure":              w.OnFailure,
			"OnFailureDelayDuration": w.OnFailureDelay,
			"OnFailureResetPeriod":   w.OnFailureResetPeriod,
		},
	}
}
