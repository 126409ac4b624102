package macos

import (
	"fmt"
	"path"
	"strings"

	"github.com/kiwistack/endpoint/launchers/appbundle"
	"github.com/kiwistack/endpoint/launchers/catalog"
	"github.com/kiwistack/endpoint/launchers/dispatch"
	"github.com/kiwistack/endpoint/launchers/fileset"
)

// The URL dispatcher's bundle and state, relative to the root.
const (
	// DispatcherName is the bundle's name, which System Settings lists
	// under "Default web browser".
	DispatcherName = "KiwiStack"
	// DispatcherBundle is the dispatcher's .app.
	DispatcherBundle = AppsDir + "/" + DispatcherName + ".app"
	// DispatcherID is its CFBundleIdentifier, what MDM and `open -b` name.
	DispatcherID = "io.kiwistack.dispatcher"
	// DispatcherExecutable is the file in Contents/MacOS.
	DispatcherExecutable = "kiwistack-dispatch"
	// DispatchState is the dispatcher's state file.
	DispatchState = "Library/Application Support/KiwiStack/launchers/dispatch.json"
)

// Defaults of Dispatcher.
const (
	// DefaultAgent is where the macOS package installs the agent.
	DefaultAgent = "/usr/local/bin/kiwistack-agent"
	// DefaultPrevious is the browser every Mac has.
	DefaultPrevious = "com.apple.Safari"
	// Open is LaunchServices' command line, which opens the previous
	// browser by bundle identifier (`open -b ID URL`).
	Open = "/usr/bin/open"
)

// ChromeExecutables are the Chromium executables app windows run, in the
// order tried (appbundle.Browsers in /Applications).
var ChromeExecutables = func() []string {
	out := make([]string, len(appbundle.Browsers))
	for i, b := range appbundle.Browsers {
		out[i] = "/Applications/" + b
	}
	return out
}()

// Dispatcher is what the dispatcher's bundle and state depend on.
type Dispatcher struct {
	// Agent is the kiwistack-agent the bundle execs; default DefaultAgent.
	Agent string
	// StateFile is the state the bundle names; default "/" + DispatchState.
	StateFile string
	// Browser is the Chromium executable app windows run; default the
	// first of ChromeExecutables.
	Browser string
	// Previous is the bundle identifier of the browser links that are not
	// the tenant's go to; default DefaultPrevious.
	Previous string
}

// PreviousArgv returns the previous browser's command before the URL.
func (d Dispatcher) PreviousArgv() []string {
	return []string{Open, "-b", orDefault(d.Previous, DefaultPrevious)}
}

// AppArgs are the arguments the bundle passes to the agent after its path.
func (d Dispatcher) AppArgs() []string {
	return []string{"dispatch", "--apple-events", "--state", orDefault(d.StateFile, "/"+DispatchState)}
}

// RenderDispatcher returns the dispatcher's bundle (Info.plist declaring
// http and https, and an executable that execs the agent's Apple Event
// receiver) and its state, for catalog c.
func RenderDispatcher(c *catalog.Catalog, d Dispatcher) (fileset.Set, error) {
	agent, state := orDefault(d.Agent, DefaultAgent), orDefault(d.StateFile, "/"+DispatchState)
	browser, prev := orDefault(d.Browser, ChromeExecutables[0]), orDefault(d.Previous, DefaultPrevious)
	for _, p := range []struct{ what, v string }{{"agent", agent}, {"state file", state}, {"browser", browser}} {
		if !strings.HasPrefix(p.v, "/") {
			return nil, fmt.Errorf("dispatcher: %s %q: want an absolute path", p.what, p.v)
		}
	}
	if err := appbundle.CheckIdentifier(prev); err != nil {
		return nil, fmt.Errorf("previous browser: %w", err)
	}
	if strings.HasPrefix(strings.ToLower(prev), "io.kiwistack.") {
		return nil, fmt.Errorf("previous browser %s: a KiwiStack bundle would hand links back to the dispatcher", prev)
	}
	web, _ := c.Web()
	for _, l := range web {
		if strings.EqualFold(BundleDir(l), DispatcherBundle) {
			return nil, fmt.Errorf("launcher %s: its bundle %q is the dispatcher's", l.ID, BundleDir(l))
		}
	}
	info, err := appbundle.Info{
		Identifier: DispatcherID,
		Name:       DispatcherName,
		Executable: DispatcherExecutable,
		Version:    BundleVersion,
		URLSchemes: []string{"http", "https"},
		UIElement:  true,
	}.Plist()
	if err != nil {
		return nil, err
	}
	exe, err := appbundle.ExecWrapper(DispatcherID, []string{
		"The URL dispatcher. macOS hands it a link as a get-URL Apple Event, not as an",
		"argument: the agent below receives the event after the exec, in this same",
		"process. This script uses none of its arguments, so no URL reaches the shell.",
	}, append([]string{agent}, Dispatcher{StateFile: state}.AppArgs()...))
	if err != nil {
		return nil, err
	}
	st := dispatch.State{Catalog: c, Browser: browser, Previous: Dispatcher{Previous: prev}.PreviousArgv(),
		PreviousFrom: "bundle identifier " + prev + ", opened through LaunchServices"}
	stateJSON, err := st.Marshal()
	if err != nil {
		return nil, err
	}
	return fileset.Set{
		{Path: path.Join(DispatcherBundle, "Contents/Info.plist"), Data: info, Mode: 0o644},
		{Path: path.Join(DispatcherBundle, "Contents/MacOS", DispatcherExecutable), Data: exe, Mode: 0o755},
		{Path: DispatchState, Data: stateJSON, Mode: 0o644},
	}, nil
}

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}
