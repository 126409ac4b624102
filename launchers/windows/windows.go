// Package windows renders everything the Windows track (BYOL) of seed
// "Desktop apps" puts on a PC for a catalog: a .lnk shortcut per Chromium
// launcher in the all-users Start Menu and on the public Desktop, running
// chrome.exe (or Chromium) with --app=URL --profile-directory=Work, the
// launchers' .ico files, the registry values (Chromium and Chrome policy;
// the URL dispatcher's StartMenuInternet, Capabilities and
// RegisteredApplications registration) as a .reg file for review, the
// default-associations XML that policy applies to make the dispatcher the
// http and https handler, and the dispatcher's state. RegistryValues is the
// one list both the .reg file and the registry writer (winreg.Apply) are
// made from. Render is a pure function from a validated catalog to a
// fileset.Set; it writes no file and touches no registry.
//
// Paths in the set are relative to the root that stands for the system
// drive, C:\; the paths inside the files (the shortcut's target, icon, the
// registry data) are the final Windows paths under C:\.
package windows

import (
	"encoding/xml"
	"fmt"
	"path"
	"strconv"
	"strings"

	"github.com/kiwistack/endpoint/launchers/catalog"
	"github.com/kiwistack/endpoint/launchers/chromepolicy"
	"github.com/kiwistack/endpoint/launchers/chromium"
	"github.com/kiwistack/endpoint/launchers/dispatch"
	"github.com/kiwistack/endpoint/launchers/fileset"
	"github.com/kiwistack/endpoint/launchers/icon"
	"github.com/kiwistack/endpoint/launchers/shelllink"
	"github.com/kiwistack/endpoint/launchers/winreg"
)

// Paths relative to the root (C:\).
const (
	// StartMenuDir is the all-users Start Menu folder of the launchers
	// (%ProgramData%\Microsoft\Windows\Start Menu\Programs\KiwiStack).
	StartMenuDir = "ProgramData/Microsoft/Windows/Start Menu/Programs/KiwiStack"
	// DesktopDir is the public Desktop (%PUBLIC%\Desktop), shown on every
	// user's desktop.
	DesktopDir = "Users/Public/Desktop"
	// IconsDir holds the launchers' .ico files.
	IconsDir = "Program Files/KiwiStack/icons"
	// StateDir holds the agent's files about the launchers.
	StateDir = "ProgramData/KiwiStack/launchers"
	// Manifest is where the Windows writer records what it owns.
	Manifest = StateDir + "/windows.json"
	// RegFile is the registry values as a .reg file, for review (and for
	// `reg import` where the agent does not write the registry itself).
	RegFile = StateDir + "/kiwistack.reg"
	// DefaultAssociationsFile is the dispatcher's default associations,
	// for the "Set a default associations configuration file" policy or
	// `dism /Online /Import-DefaultAppAssociations`.
	DefaultAssociationsFile = StateDir + "/DefaultAssociations.xml"
	// DispatchState is the state the dispatcher decides from.
	DispatchState = StateDir + "/dispatch.json"
)

// The dispatcher's registration.
const (
	// ClientName is the dispatcher's key under StartMenuInternet and its
	// name in RegisteredApplications.
	ClientName = "KiwiStack"
	// ProgID is the class that opens http and https URLs through the
	// dispatcher.
	ProgID = "KiwiStackURL"
	// DispatcherName is what Settings > Default apps shows.
	DispatcherName = "KiwiStack Links"
	// DefaultAgent is where the agent is installed.
	DefaultAgent = `C:\Program Files\KiwiStack\kiwistack-agent.exe`
	// DefaultPrevious is the browser links that are not the tenant's go
	// to unless told otherwise: Microsoft Edge, which every Windows 11 PC
	// has.
	DefaultPrevious = `C:\Program Files (x86)\Microsoft\Edge\Application\msedge.exe`
)

// DefaultBrowser is Google Chrome's system-wide install, the Chromium most
// Windows PCs have (Chromium has no system-wide installer of its own).
const DefaultBrowser = `C:\Program Files\Google\Chrome\Application\chrome.exe`

// PolicyKeys are where Chromium and Google Chrome read machine policy.
var PolicyKeys = []string{`SOFTWARE\Policies\Chromium`, `SOFTWARE\Policies\Google\Chrome`}

// Options are the Windows paths the files point at.
type Options struct {
	// Browser is chrome.exe or Chromium's chrome.exe, an absolute Windows
	// path; empty means DefaultBrowser.
	Browser string
	// Agent is kiwistack-agent.exe, which the dispatcher's registration
	// runs; empty means DefaultAgent.
	Agent string
	// StateFile is the dispatcher's state as its registration passes it
	// with --state; empty means WinPath(DispatchState), the dispatcher's
	// default, which is then not passed.
	StateFile string
	// Previous is the browser links that are not the tenant's go to; empty
	// means DefaultPrevious.
	Previous string
}

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// BrowserPath returns the browser the shortcuts run.
func (o Options) BrowserPath() string {
	if o.Browser == "" {
		return DefaultBrowser
	}
	return o.Browser
}

// WinPath turns a path relative to the root into the Windows path under
// C:\.
func WinPath(rel string) string { return `C:\` + strings.ReplaceAll(rel, "/", `\`) }

// IconPath returns launcher id's .ico, relative to the root.
func IconPath(id string) string { return path.Join(IconsDir, "kiwistack-"+id+".ico") }

// reserved reports whether name is a DOS device name Windows will not
// create a file under, whatever the extension: CON, PRN, AUX, NUL, COM0-9,
// LPT0-9, in any case.
func reserved(name string) bool {
	switch n := strings.ToUpper(name); {
	case n == "CON" || n == "PRN" || n == "AUX" || n == "NUL":
		return true
	case len(n) == 4 && (n[:3] == "COM" || n[:3] == "LPT") && n[3] >= '0' && n[3] <= '9':
		return true
	}
	return false
}

// ShortcutName returns the .lnk file name of a launcher: its name, which
// the Start Menu and the Desktop show, or "KiwiStack " and the name when the
// name is a DOS device name such as "Con".
func ShortcutName(l *catalog.Launcher) string {
	stem, _, _ := strings.Cut(l.Name, ".")
	if reserved(strings.TrimRight(stem, " ")) {
		return "KiwiStack " + l.Name + ".lnk"
	}
	return l.Name + ".lnk"
}

// CommandLine joins arguments for a Windows command line. Arguments must
// not hold '"' or control characters; one with a space or tab, or an empty
// one, is put in double quotes, with a trailing backslash doubled so that it
// does not escape the closing quote (the CommandLineToArgvW rules).
func CommandLine(args ...string) (string, error) {
	parts := make([]string, len(args))
	for i, a := range args {
		if strings.ContainsAny(a, "\"\x00\r\n") || strings.IndexFunc(a, func(r rune) bool { return r < 0x20 && r != '\t' }) >= 0 {
			return "", fmt.Errorf("argument %q: quotes and control characters are not allowed", a)
		}
		if a != "" && !strings.ContainsAny(a, " \t") {
			parts[i] = a
			continue
		}
		trail := len(a) - len(strings.TrimRight(a, `\`))
		parts[i] = `"` + a + strings.Repeat(`\`, trail) + `"`
	}
	return strings.Join(parts, " "), nil
}

// Shortcut returns the shortcut of web launcher l.
func Shortcut(l *catalog.Launcher, o Options) (shelllink.Link, error) {
	args, err := CommandLine(chromium.AppArgs(l.URL)...)
	if err != nil {
		return shelllink.Link{}, fmt.Errorf("launcher %s: %w", l.ID, err)
	}
	b := o.BrowserPath()
	if err := shelllink.ValidTarget(b); err != nil {
		return shelllink.Link{}, fmt.Errorf("browser: %w", err)
	}
	dir := b[:strings.LastIndexByte(b, '\\')]
	if len(dir) == 2 {
		dir += `\`
	}
	return shelllink.Link{
		Target:       b,
		Arguments:    args,
		WorkingDir:   dir,
		IconLocation: WinPath(IconPath(l.ID)),
		Description:  l.Comment,
	}, nil
}

// DispatchCommand returns the command line Windows runs for a URL, "%1"
// standing for it: the agent's dispatch subcommand, "--" before the URL so
// that it is never read as a flag.
func DispatchCommand(o Options) (string, error) {
	agent := orDefault(o.Agent, DefaultAgent)
	if err := shelllink.ValidTarget(agent); err != nil {
		return "", fmt.Errorf("agent: %w", err)
	}
	args := []string{agent, "dispatch"}
	if o.StateFile != "" && o.StateFile != WinPath(DispatchState) {
		if err := shelllink.ValidTarget(o.StateFile); err != nil {
			return "", fmt.Errorf("dispatcher state: %w", err)
		}
		args = append(args, "--state", o.StateFile)
	}
	line, err := CommandLine(append(args, "--")...)
	if err != nil {
		return "", err
	}
	return line + ` "%1"`, nil
}

// PolicyValues returns the registry values of policy p under each of
// PolicyKeys, in the form Chromium's policy templates give each type
// (docs/launchers.md, "Policy value types"): a string policy is a REG_SZ
// value, a boolean a REG_DWORD value (1 or 0), and a list a subkey named
// after the policy whose REG_SZ values "1", "2", … are the items. The list
// subkey is deleted first, so that a list that shrank leaves no stale item;
// a managed policy p does not set is deleted (its value, or its list
// subkey).
func PolicyValues(p chromepolicy.Policy) []winreg.Value {
	set := map[string]chromepolicy.Value{}
	for _, v := range p.Values() {
		set[v.Name] = v
	}
	var vs []winreg.Value
	for _, key := range PolicyKeys {
		for _, spec := range chromepolicy.Managed {
			v, ok := set[spec.Name]
			switch {
			case spec.Kind == chromepolicy.List:
				sub := key + `\` + spec.Name
				vs = append(vs, winreg.Value{Key: sub, Kind: winreg.DeleteKey})
				for i, item := range v.List {
					vs = append(vs, winreg.Value{Key: sub, Name: strconv.Itoa(i + 1), Kind: winreg.String, String: item})
				}
			case !ok:
				vs = append(vs, winreg.Value{Key: key, Name: spec.Name, Kind: winreg.Delete})
			case spec.Kind == chromepolicy.Bool:
				var d uint32
				if v.Bool {
					d = 1
				}
				vs = append(vs, winreg.Value{Key: key, Name: spec.Name, Kind: winreg.DWORD, DWord: d})
			default:
				vs = append(vs, winreg.Value{Key: key, Name: spec.Name, Kind: winreg.String, String: v.String})
			}
		}
	}
	return vs
}

// RegistryValues returns every registry value the agent manages for
// catalog c, under HKEY_LOCAL_MACHINE: the policy's (PolicyValues), then
// the dispatcher's registration as a browser (StartMenuInternet with its
// Capabilities, RegisteredApplications, and the ProgID that runs the
// dispatcher). The .reg file and the registry writer both take this list.
func RegistryValues(c *catalog.Catalog, o Options) ([]winreg.Value, error) {
	vs := PolicyValues(chromepolicy.For(c))
	browser := o.BrowserPath()
	if err := shelllink.ValidTarget(browser); err != nil {
		return nil, fmt.Errorf("browser: %w", err)
	}
	command, err := DispatchCommand(o)
	if err != nil {
		return nil, err
	}
	client := `SOFTWARE\Clients\StartMenuInternet\` + ClientName
	str := func(key, name, value string) {
		vs = append(vs, winreg.Value{Key: key, Name: name, Kind: winreg.String, String: value})
	}
	icon := browser + ",0"
	str(client, "", DispatcherName)
	str(client+`\Capabilities`, "ApplicationName", DispatcherName)
	str(client+`\Capabilities`, "ApplicationDescription", "Opens the tenant's apps in their app windows and other links in the previous default browser.")
	str(client+`\Capabilities`, "ApplicationIcon", icon)
	str(client+`\Capabilities\URLAssociations`, "http", ProgID)
	str(client+`\Capabilities\URLAssociations`, "https", ProgID)
	str(client+`\Capabilities\StartMenu`, "StartMenuInternet", ClientName)
	str(client+`\DefaultIcon`, "", icon)
	// Started from the Start menu's browser entry, without a URL: the
	// browser itself.
	str(client+`\shell\open\command`, "", `"`+browser+`"`)
	str(`SOFTWARE\RegisteredApplications`, ClientName, client+`\Capabilities`)
	str(`SOFTWARE\Classes\`+ProgID, "", DispatcherName+" URL")
	str(`SOFTWARE\Classes\`+ProgID, "URL Protocol", "")
	str(`SOFTWARE\Classes\`+ProgID+`\DefaultIcon`, "", icon)
	str(`SOFTWARE\Classes\`+ProgID+`\shell\open\command`, "", command)
	if err := winreg.Validate(vs); err != nil {
		return nil, err
	}
	return vs, nil
}

// Render returns the Windows files for catalog c.
func Render(c *catalog.Catalog, o Options) (fileset.Set, error) {
	if err := c.Validate(); err != nil {
		return nil, err
	}
	var set fileset.Set
	add := func(p string, data []byte) { set = append(set, fileset.File{Path: p, Data: data, Mode: 0o644}) }
	web, specs := c.Web()
	icos, err := icon.Batch(specs, icon.ICO)
	if err != nil {
		return nil, err
	}
	names := map[string]string{}
	for i, l := range web {
		name := ShortcutName(l)
		// NTFS is case-insensitive: two names differing in case are one file.
		if other, dup := names[strings.ToLower(name)]; dup {
			return nil, fmt.Errorf("launchers %s and %s: shortcut names %q and %q are the same file on Windows", other, l.ID, c.Launcher(other).Name, l.Name)
		}
		names[strings.ToLower(name)] = l.ID
		link, err := Shortcut(l, o)
		if err != nil {
			return nil, err
		}
		lnk, err := link.Encode()
		if err != nil {
			return nil, fmt.Errorf("launcher %s: %w", l.ID, err)
		}
		add(path.Join(StartMenuDir, name), lnk)
		add(path.Join(DesktopDir, name), lnk)
		add(IconPath(l.ID), icos[i])
	}
	vs, err := RegistryValues(c, o)
	if err != nil {
		return nil, err
	}
	reg, err := winreg.RegFile(vs)
	if err != nil {
		return nil, err
	}
	add(RegFile, reg)
	assoc, err := DefaultAssociations()
	if err != nil {
		return nil, err
	}
	add(DefaultAssociationsFile, assoc)
	prev := orDefault(o.Previous, DefaultPrevious)
	if err := shelllink.ValidTarget(prev); err != nil {
		return nil, fmt.Errorf("previous browser: %w", err)
	}
	st := dispatch.State{Catalog: c, Browser: o.BrowserPath(), Previous: []string{prev}, PreviousFrom: "the Windows render's previous browser"}
	state, err := st.Marshal()
	if err != nil {
		return nil, err
	}
	add(DispatchState, state)
	return set, nil
}

// association is one element of a default-associations file.
type association struct {
	Identifier      string `xml:"Identifier,attr"`
	ProgID          string `xml:"ProgId,attr"`
	ApplicationName string `xml:"ApplicationName,attr"`
}

// DefaultAssociations returns the default-associations XML (the format of
// `dism /Export-DefaultAppAssociations` and of the
// DefaultAssociationsConfiguration policy) that makes ProgID the handler of
// http and https.
func DefaultAssociations() ([]byte, error) {
	doc := struct {
		XMLName      xml.Name      `xml:"DefaultAssociations"`
		Associations []association `xml:"Association"`
	}{Associations: []association{
		{Identifier: "http", ProgID: ProgID, ApplicationName: DispatcherName},
		{Identifier: "https", ProgID: ProgID, ApplicationName: DispatcherName},
	}}
	b, err := xml.MarshalIndent(doc, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("encoding the default associations: %w", err)
	}
	return append(append([]byte(xml.Header), b...), '\n'), nil
}
