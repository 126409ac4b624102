package xdg

import (
	"errors"
	"fmt"
	"io/fs"
	"path"
	"strings"

	"github.com/kiwistack/endpoint/launchers/catalog"
	"github.com/kiwistack/endpoint/launchers/chromium"
	"github.com/kiwistack/endpoint/launchers/desktopentry"
	"github.com/kiwistack/endpoint/launchers/dispatch"
	"github.com/kiwistack/endpoint/launchers/fileset"
	"github.com/kiwistack/endpoint/launchers/mimeapps"
)

// The URL dispatcher's files (seed C5, v2), relative to the root.
const (
	// DispatcherID is the dispatcher's desktop-file ID.
	DispatcherID = Prefix + "dispatch.desktop"
	// DispatchState is the state the dispatcher decides from.
	DispatchState = "var/lib/kiwistack/launchers/dispatch.json"
	// MimeappsList is the system-wide mimeapps.list the dispatcher is made
	// the default http and https handler in.
	MimeappsList = "etc/xdg/mimeapps.list"
)

// DefaultAgent is where the packages install kiwistack-agent.
const DefaultAgent = "/usr/bin/kiwistack-agent"

// SchemeTypes are the MIME types of the URLs the dispatcher handles.
var SchemeTypes = []string{"x-scheme-handler/http", "x-scheme-handler/https"}

// Dispatcher is what the dispatcher's files depend on besides the catalog
// and the browser.
type Dispatcher struct {
	// Agent is the absolute path of kiwistack-agent the entry runs; empty
	// means DefaultAgent.
	Agent string
	// StateFile is the state's absolute path as the entry passes it with
	// --state; empty means "/" + DispatchState, which is the dispatcher's
	// default and is then not passed.
	StateFile string
	// Mimeapps is the current content of MimeappsList under the root (nil
	// when there is none): the dispatcher's defaults are merged into it.
	Mimeapps []byte
	// Previous is the browser that was the default before.
	Previous Previous
}

// Previous is the browser the dispatcher hands every other URL to.
type Previous struct {
	// Argv is its command line before the URL; empty when none is known.
	Argv []string
	// From says where it was found, for people.
	From string
}

// DispatcherEntry returns the dispatcher's desktop entry: hidden from menus,
// handling http and https, running `kiwistack-agent dispatch -- %u`. Its Exec
// has no quoted argument, because xdg-open's generic fallback splits Exec on
// spaces without reading quotes: the agent's and the state's paths must
// have no space or reserved character.
func DispatcherEntry(d Dispatcher) (desktopentry.Entry, error) {
	agent := d.Agent
	if agent == "" {
		agent = DefaultAgent
	}
	argv := []string{agent, "dispatch"}
	if d.StateFile != "" && d.StateFile != "/"+DispatchState {
		if !strings.HasPrefix(d.StateFile, "/") {
			return desktopentry.Entry{}, fmt.Errorf("dispatcher state %q: want an absolute path", d.StateFile)
		}
		argv = append(argv, "--state", d.StateFile)
	}
	for _, a := range argv {
		if !strings.HasPrefix(argv[0], "/") || a == "" || strings.ContainsAny(a, " \t\n\"'\\><~|&;$*?#()`%=") {
			return desktopentry.Entry{}, fmt.Errorf("dispatcher command %q: want absolute paths without spaces or shell characters (xdg-open splits Exec on spaces)", argv)
		}
	}
	// "--" ends the options: whatever a launcher passes for %u is the URL,
	// never a flag.
	argv = append(argv, "--")
	return desktopentry.Entry{
		Name:      "KiwiStack Links",
		Comment:   "Opens the tenant's apps in their app windows and other links in the previous default browser",
		Exec:      argv,
		FieldCode: "%u",
		TryExec:   agent,
		MimeTypes: SchemeTypes,
		NoDisplay: true,
	}, nil
}

// RenderDispatcher returns the dispatcher's files for catalog c whose app
// windows run browser: its desktop entry, MimeappsList with the entry as
// the default for http and https (every other line kept), and its state.
func RenderDispatcher(c *catalog.Catalog, browser chromium.Browser, d Dispatcher) (fileset.Set, error) {
	e, err := DispatcherEntry(d)
	if err != nil {
		return nil, err
	}
	entry, err := e.Render()
	if err != nil {
		return nil, err
	}
	list, err := mimeapps.SetDefaults(d.Mimeapps, DispatcherID, SchemeTypes...)
	if err != nil {
		return nil, fmt.Errorf("/%s: %w", MimeappsList, err)
	}
	st := dispatch.State{Catalog: c, Browser: browser.Path, Previous: d.Previous.Argv, PreviousFrom: d.Previous.From}
	state, err := st.Marshal()
	if err != nil {
		return nil, err
	}
	return fileset.Set{
		{Path: path.Join(ApplicationsDir, DispatcherID), Data: entry, Mode: 0o644},
		{Path: MimeappsList, Data: list, Mode: 0o644},
		{Path: DispatchState, Data: state, Mode: 0o644},
	}, nil
}

// ApplicationDirs are where desktop files are looked up, relative to the
// root: $XDG_DATA_DIRS/applications on Debian and Ubuntu, snaps included.
var ApplicationDirs = []string{"usr/local/share/applications", "usr/share/applications", "var/lib/snapd/desktop/applications"}

// openers run xdg-open or the dispatcher again: a previous browser that is
// one of them would loop.
var openers = map[string]bool{"kiwistack-agent": true, "xdg-open": true, "gio": true, "kde-open": true, "kde-open5": true,
	"exo-open": true, "gnome-open": true, "gvfs-open": true, "sensible-browser": true}

// urlSentinel stands for the URL while an Exec line is expanded; a desktop
// file cannot hold it (Parse refuses control characters).
const urlSentinel = "\x00url\x00"

// BrowserCommand returns the command line (before the URL) of the desktop
// entry id under fsys (the root), from its Exec key: the URL must be its
// last argument, as in every browser's entry. It refuses the dispatcher
// itself, hidden entries and entries that run an opener (xdg-open and
// the like), which would loop back to the dispatcher.
func BrowserCommand(fsys fs.FS, id string) ([]string, string, error) {
	if id == DispatcherID {
		return nil, "", errors.New("it is the dispatcher itself")
	}
	if !strings.HasSuffix(id, ".desktop") || strings.ContainsAny(id, "/\\") || fileset.ValidPath(id) != nil {
		return nil, "", fmt.Errorf("%q is not a desktop-file ID", id)
	}
	for _, dir := range ApplicationDirs {
		p := path.Join(dir, id)
		b, err := fs.ReadFile(fsys, p)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return nil, "", fmt.Errorf("reading /%s: %w", p, err)
		}
		kv, err := desktopentry.Parse(b)
		if err != nil {
			return nil, "", fmt.Errorf("/%s: %w", p, err)
		}
		if kv["Hidden"] == "true" {
			return nil, "", fmt.Errorf("/%s is hidden (deleted)", p)
		}
		argv, err := desktopentry.ExecArgv(kv["Exec"], urlSentinel)
		if err != nil {
			return nil, "", fmt.Errorf("/%s: %w", p, err)
		}
		n := len(argv)
		if argv[n-1] != urlSentinel || strings.Contains(strings.Join(argv[:n-1], " "), urlSentinel) {
			return nil, "", fmt.Errorf("/%s: the URL is not the last argument of Exec", p)
		}
		for _, a := range argv[:n-1] {
			if openers[path.Base(a)] {
				return nil, "", fmt.Errorf("/%s runs %s, which would hand the URL back to the dispatcher", p, path.Base(a))
			}
		}
		return argv[:n-1], "/" + p, nil
	}
	return nil, "", fmt.Errorf("no %s in /%s", id, strings.Join(ApplicationDirs, ", /"))
}

// FindPrevious finds the browser that is the default under fsys (the
// root) before the dispatcher: the first usable default for
// x-scheme-handler/https, then http, in the system mimeapps.list files in
// the specification's order; else kept, what an earlier render recorded
// (once the dispatcher is the default, the lists name only it); else
// Debian's x-www-browser alternative. It returns what it skipped and why,
// for the render's report. The dispatcher itself is always skipped, so
// rendering again never records it.
func FindPrevious(fsys fs.FS, kept Previous) (Previous, []string) {
	var skipped []string
	for _, mime := range []string{"x-scheme-handler/https", "x-scheme-handler/http"} {
		for _, file := range mimeapps.SystemFiles {
			b, err := fs.ReadFile(fsys, file)
			if errors.Is(err, fs.ErrNotExist) {
				continue
			}
			if err != nil {
				skipped = append(skipped, fmt.Sprintf("/%s: %v", file, err))
				continue
			}
			ids, err := mimeapps.Defaults(b, mime)
			if err != nil {
				skipped = append(skipped, fmt.Sprintf("/%s: %v", file, err))
				continue
			}
			for _, id := range ids {
				if id == DispatcherID {
					continue
				}
				argv, entry, err := BrowserCommand(fsys, id)
				if err != nil {
					skipped = append(skipped, fmt.Sprintf("%s (default for %s in /%s): %v", id, mime, file, err))
					continue
				}
				return Previous{Argv: argv, From: fmt.Sprintf("%s, the default for %s in /%s", entry, mime, file)}, skipped
			}
		}
	}
	if len(kept.Argv) > 0 {
		return kept, skipped
	}
	if _, err := fs.Stat(fsys, "usr/bin/x-www-browser"); err == nil {
		return Previous{Argv: []string{"/usr/bin/x-www-browser"}, From: "Debian's x-www-browser alternative"}, skipped
	}
	return Previous{}, skipped
}
