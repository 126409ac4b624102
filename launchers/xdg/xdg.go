// Package xdg renders everything the Linux track of seed "Desktop apps"
// puts on a laptop for a catalog: one desktop entry per launcher in
// /usr/share/applications (Chromium app windows in the Work profile, Element
// Desktop for Chat, the Nextcloud client beside Files), the icons in the
// hicolor theme, Chromium's and Google Chrome's managed policy, and Element
// Desktop's configuration; and the URL dispatcher's desktop entry, its
// registration as the default http and https handler in
// /etc/xdg/mimeapps.list, and its state. Render and RenderDispatcher are
// pure functions from a validated catalog and what was found on the
// machine to a fileset.Set; writing it is fileset.Writer's job. FindPrevious
// reads (only reads) the machine's default browser from a root file
// system.
package xdg

import (
	"fmt"
	"path"
	"runtime"
	"sync"

	"github.com/kiwistack/endpoint/launchers/catalog"
	"github.com/kiwistack/endpoint/launchers/chromepolicy"
	"github.com/kiwistack/endpoint/launchers/chromium"
	"github.com/kiwistack/endpoint/launchers/clients"
	"github.com/kiwistack/endpoint/launchers/desktopentry"
	"github.com/kiwistack/endpoint/launchers/fileset"
	"github.com/kiwistack/endpoint/launchers/icon"
)

// Manifest is where the Linux writer records what it owns, relative to the
// root.
const Manifest = "var/lib/kiwistack/launchers/linux.json"

// Prefix starts every file name the launchers own, so that they never
// collide with a package's files.
const Prefix = "kiwistack-"

// ApplicationsDir is where the desktop entries go, relative to the root.
const ApplicationsDir = "usr/share/applications"

// IconPath returns the hicolor path of launcher id's icon at size, relative
// to the root.
func IconPath(id string, size int) string {
	return fmt.Sprintf("usr/share/icons/hicolor/%dx%d/apps/%s%s.png", size, size, Prefix, id)
}

// EntryPath returns the path of a desktop entry, relative to the root.
func EntryPath(name string) string { return path.Join(ApplicationsDir, Prefix+name+".desktop") }

// Render returns the Linux files for catalog c, whose Chromium launchers
// run browser (from chromium.Find). c must have passed Validate.
func Render(c *catalog.Catalog, browser chromium.Browser) (fileset.Set, error) {
	if err := c.Validate(); err != nil {
		return nil, err
	}
	if browser.Path == "" {
		return nil, fmt.Errorf("rendering Linux launchers: %w", chromium.ErrNotFound)
	}
	var set fileset.Set
	add := func(p string, data []byte) { set = append(set, fileset.File{Path: p, Data: data, Mode: 0o644}) }
	for i := range c.Launchers {
		l := &c.Launchers[i]
		entries, err := Entries(l, browser)
		if err != nil {
			return nil, err
		}
		for _, e := range entries {
			b, err := e.Entry.Render()
			if err != nil {
				return nil, fmt.Errorf("launcher %s: %w", l.ID, err)
			}
			add(EntryPath(e.Name), b)
		}
		if l.Kind == catalog.Element {
			cfg, err := clients.ElementConfig(l)
			if err != nil {
				return nil, err
			}
			add(clients.ElementConfigPath[1:], cfg)
		}
	}
	icons, err := renderIcons(c)
	if err != nil {
		return nil, err
	}
	set = append(set, icons...)
	pol := chromepolicy.For(c).JSON()
	for _, dir := range chromium.LinuxPolicyDirs {
		add(path.Join(dir[1:], chromepolicy.FileName), pol)
	}
	return set, nil
}

// NamedEntry is a desktop entry with its file name (without prefix and
// extension).
type NamedEntry struct {
	Name  string
	Entry desktopentry.Entry
}

// Entries returns the desktop entries of one launcher: its own, and the
// companion's.
func Entries(l *catalog.Launcher, browser chromium.Browser) ([]NamedEntry, error) {
	base := desktopentry.Entry{
		Name:          l.Name,
		Comment:       l.Comment,
		Icon:          Prefix + l.ID,
		Categories:    l.Categories,
		StartupNotify: true,
	}
	switch l.Kind {
	case catalog.Web:
		class, err := chromium.WMClass(l.URL)
		if err != nil {
			return nil, fmt.Errorf("launcher %s: %w", l.ID, err)
		}
		e := base
		e.Exec = append([]string{browser.Path}, chromium.AppArgs(l.URL)...)
		e.TryExec = browser.Path
		e.StartupWMClass = class
		out := []NamedEntry{{l.ID, e}}
		if l.Companion == catalog.NextcloudSync {
			sync := base
			sync.Name = l.Name + " Sync"
			sync.Comment = "Nextcloud desktop client"
			sync.Exec = clients.NextcloudArgv(l)
			sync.TryExec = clients.NextcloudCommand
			// The client's own window class is its own; no StartupWMClass.
			sync.StartupNotify = false
			out = append(out, NamedEntry{l.ID + "-sync", sync})
		}
		return out, nil
	case catalog.Element:
		e := base
		e.Exec = clients.ElementArgv()
		e.TryExec = clients.ElementCommand
		e.StartupNotify = false
		return []NamedEntry{{l.ID, e}}, nil
	}
	return nil, fmt.Errorf("launcher %s: unknown kind %q", l.ID, l.Kind)
}

// renderIcons draws every launcher's icon at every hicolor size, on all
// cores: the icons are independent and the drawing is most of a render's
// time.
func renderIcons(c *catalog.Catalog) (fileset.Set, error) {
	type job struct {
		spec catalog.Icon
		size int
		path string
	}
	var jobs []job
	for _, l := range c.Launchers {
		for _, s := range icon.HicolorSizes {
			jobs = append(jobs, job{l.Icon, s, IconPath(l.ID, s)})
		}
	}
	out := make(fileset.Set, len(jobs))
	errs := make([]error, len(jobs))
	next := make(chan int)
	var wg sync.WaitGroup
	for range min(runtime.GOMAXPROCS(0), len(jobs)) {
		wg.Go(func() {
			for i := range next {
				b, err := icon.PNG(jobs[i].spec, jobs[i].size)
				out[i], errs[i] = fileset.File{Path: jobs[i].path, Data: b, Mode: 0o644}, err
			}
		})
	}
	// The biggest icons first, so that no core waits on a 512 at the end.
	for k := len(icon.HicolorSizes) - 1; k >= 0; k-- {
		for i := k; i < len(jobs); i += len(icon.HicolorSizes) {
			next <- i
		}
	}
	close(next)
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return nil, err
		}
	}
	return out, nil
}
