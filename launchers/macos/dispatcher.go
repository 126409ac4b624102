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
	// DispatcherExecutable is the file in Contents/MacOS: the agent binary
	// itself, which the macOS package installs there (render never writes
	// it). Started by LaunchServices with no verb, it is the dispatcher
	// app (`kiwistack-agent dispatch --apple-events`).
	DispatcherExecutable = "kiwistack-agent"
	// DispatchState is the dispatcher's state file.
	DispatchState = "Library/Application Support/KiwiStack/launchers/dispatch.json"
)

// Defaults of Dispatcher.
const (
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

// Dispatcher is what the dispatcher's state depends on. The bundle's
// executable is the agent binary the package installs in it, which reads
// the state from its default place ("/" + DispatchState).
type Dispatcher struct {
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

// DispatcherInfoPlist returns the dispatcher bundle's Info.plist: a
// handler of http and https whose executable is the agent binary. The macOS
// package installs the same bytes, so the bundle is complete from install
// time and render finds it unchanged.
func DispatcherInfoPlist() ([]byte, error) {
	return appbundle.Info{
		Identifier: DispatcherID,
		Name:       DispatcherName,
		Executable: DispatcherExecutable,
		Version:    BundleVersion,
		URLSchemes: []string{"http", "https"},
		UIElement:  true,
	}.Plist()
}

// RenderDispatcher returns the dispatcher bundle's Info.plist and the
// dispatcher's state, for catalog c. It never writes the bundle's
// executable: that is the agent binary, installed by the package.
func RenderDispatcher(c *catalog.Catalog, d Dispatcher) (fileset.Set, error) {
	browser, prev := orDefault(d.Browser, ChromeExecutables[0]), orDefault(d.Previous, DefaultPrevious)
	if !strings.HasPrefix(browser, "/") {
		return nil, fmt.Errorf("dispatcher: browser %q: want an absolute path", browser)
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
	info, err := DispatcherInfoPlist()
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
		{Path: DispatchState, Data: stateJSON, Mode: 0o644},
	}, nil
}

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}
