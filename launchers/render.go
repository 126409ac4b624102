package launchers

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/kiwistack/endpoint/launchers/catalog"
	"github.com/kiwistack/endpoint/launchers/chromium"
	"github.com/kiwistack/endpoint/launchers/dispatch"
	"github.com/kiwistack/endpoint/launchers/fileset"
	"github.com/kiwistack/endpoint/launchers/localstate"
	"github.com/kiwistack/endpoint/launchers/macos"
	"github.com/kiwistack/endpoint/launchers/windows"
	"github.com/kiwistack/endpoint/launchers/winreg"
	"github.com/kiwistack/endpoint/launchers/xdg"
)

// ErrUnsupportedOS is returned for an OS whose renderer is not written yet.
var ErrUnsupportedOS = errors.New("unsupported OS")

// Source says which catalog to use: a file the API sent, or the seed's
// defaults for a tenant.
type Source struct {
	// CatalogFile is a catalog in JSON; when set, Tenant and Routing must
	// be empty or agree with it.
	CatalogFile string
	// Tenant is the tenant slug for the default catalog.
	Tenant string
	// Routing is the routing shape for the default catalog.
	Routing catalog.Routing
}

// Load returns the catalog s names, validated.
func (s Source) Load() (*catalog.Catalog, error) {
	if s.CatalogFile == "" {
		if s.Tenant == "" {
			return nil, errors.New("no catalog: give a tenant slug or a catalog file")
		}
		r := s.Routing
		if r == "" {
			r = catalog.Subdomain
		}
		return catalog.Defaults(s.Tenant, r)
	}
	f, err := os.Open(s.CatalogFile)
	if err != nil {
		return nil, fmt.Errorf("opening the catalog: %w", err)
	}
	defer f.Close()
	c, err := catalog.Decode(f)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", s.CatalogFile, err)
	}
	if s.Tenant != "" && s.Tenant != c.Tenant || s.Routing != "" && s.Routing != c.Routing {
		return nil, fmt.Errorf("%s is tenant %s with %s routing, not what the flags say", s.CatalogFile, c.Tenant, c.Routing)
	}
	return c, nil
}

// RenderOptions are the inputs of Render.
type RenderOptions struct {
	Source
	// OS is the target: "linux", "darwin" or "windows".
	OS string
	// Root is the directory to write under.
	Root string
	// Browser is the Chromium the launchers run. Linux: an absolute path;
	// empty means the first of chromium.LinuxCandidates that LookPath
	// finds. Windows: chrome.exe's Windows path; empty means
	// windows.DefaultBrowser. macOS: must be empty (the bundles find Chrome
	// or Chromium when they start; the dispatcher's state names the first
	// of macos.ChromeExecutables present under Root, else Google Chrome).
	Browser string
	// LookPath finds the browser; nil means exec.LookPath.
	LookPath chromium.LookPath
	// Agent is the kiwistack-agent the URL dispatcher's registration runs:
	// on Linux an absolute path, default xdg.DefaultAgent; on Windows a
	// Windows path, default windows.DefaultAgent. Refused for macOS, whose
	// dispatcher bundle runs the agent binary the package installs in it.
	Agent string
	// DispatchState is the state file the dispatcher's registration names;
	// empty means the OS's default place, which is where Render writes it
	// under Root. Set it to the file under Root to try the files out in a
	// test root. Refused for macOS, whose dispatcher bundle passes no
	// arguments to the agent, which then reads the default place.
	DispatchState string
	// PreviousBrowser is the browser links that are not the tenant's go
	// to: on Linux a desktop-file ID under Root ("firefox-esr.desktop");
	// empty means the default found in Root's mimeapps.list files, else the
	// one recorded by an earlier render, else x-www-browser. On Windows the
	// browser's Windows path; empty means windows.DefaultPrevious (Edge).
	// On macOS its bundle identifier; empty means macos.DefaultPrevious
	// (Safari).
	PreviousBrowser string
	// Registry, for Windows, also receives the registry values (the policy
	// and the dispatcher's registration) after the files are written: the
	// machine's own (winreg.OpenMachine) on a Windows PC. Nil writes only
	// the .reg file.
	Registry winreg.Store
	// Log receives one line per file changed; nil discards.
	Log *slog.Logger
}

// target is what differs between the OSes in Render: the file set, where
// its manifest goes, which directories the writer owns, and what the
// summary says.
type target struct {
	set      fileset.Set
	manifest string
	owned    []string
	what     string
	report   func(io.Writer) // what else to tell, after the files
}

// Render renders every launcher file for o.OS from the catalog, applies it
// under o.Root (writing only what changed, removing what left the catalog)
// and reports to out what it did and what to do next.
func Render(out io.Writer, o RenderOptions) (fileset.Result, error) {
	if o.OS != "linux" && o.OS != "darwin" && o.OS != "windows" {
		return fileset.Result{}, fmt.Errorf("--os %q: %w (want linux, darwin or windows)", o.OS, ErrUnsupportedOS)
	}
	if o.Registry != nil && o.OS != "windows" {
		return fileset.Result{}, fmt.Errorf("the registry is written only with --os windows")
	}
	if o.Root == "" {
		return fileset.Result{}, errors.New("no root directory given")
	}
	c, err := o.Load()
	if err != nil {
		return fileset.Result{}, err
	}
	var tg target
	var vs []winreg.Value
	switch o.OS {
	case "linux":
		browser, err := findBrowser(o.Browser, o.LookPath)
		if err != nil {
			return fileset.Result{}, err
		}
		set, err := xdg.Render(c, browser)
		if err != nil {
			return fileset.Result{}, err
		}
		d, notes, err := linuxDispatcher(o)
		if err != nil {
			return fileset.Result{}, err
		}
		dset, err := xdg.RenderDispatcher(c, browser, d)
		if err != nil {
			return fileset.Result{}, err
		}
		// Kerberos in the first app window of every new home (/etc/skel)
		// and of the homes already there (launchers/localstate).
		set = append(set, localstate.SkelFile(browser.Candidate))
		tg = target{set: append(set, dset...), manifest: xdg.Manifest, what: "Linux launchers, running " + browser.Path,
			report: func(w io.Writer) {
				reportLinuxDispatcher(w, d, notes)
				seedLocalState(w, o.Root, browser.Candidate)
			}}
	case "darwin":
		if o.Browser != "" {
			return fileset.Result{}, errors.New("--browser does not apply to macOS: the app bundles find Google Chrome or Chromium when they start")
		}
		if o.Agent != "" || o.DispatchState != "" {
			return fileset.Result{}, errors.New("--agent and --dispatch-state do not apply to macOS: the dispatcher's bundle runs the agent binary installed inside it, which reads the state from its default place")
		}
		set, err := macos.Render(c)
		if err != nil {
			return fileset.Result{}, err
		}
		d := macosDispatcher(o)
		dset, err := macos.RenderDispatcher(c, d)
		if err != nil {
			return fileset.Result{}, err
		}
		tg = target{set: append(set, dset...), manifest: macos.Manifest, owned: []string{macos.AppsDir},
			what:   "macOS app bundles (Google Chrome or Chromium, found when they start)",
			report: func(w io.Writer) { reportMacOSDispatcher(w, d) }}
	case "windows":
		wo := windows.Options{Browser: o.Browser, Agent: o.Agent, StateFile: o.DispatchState, Previous: o.PreviousBrowser}
		set, err := windows.Render(c, wo)
		if err != nil {
			return fileset.Result{}, err
		}
		vs, err = windows.RegistryValues(c, wo)
		if err != nil {
			return fileset.Result{}, err
		}
		tg = target{set: set, manifest: windows.Manifest, owned: []string{windows.StartMenuDir},
			what: "Windows shortcuts (running " + wo.BrowserPath() + ")",
			report: func(w io.Writer) {
				fmt.Fprintf(w, "URL dispatcher: registered as the browser %q (in the .reg file); links that are not the tenant's go to %s.\n"+
					"Make it the http and https handler with the \"Set a default associations configuration file\" policy, or\n"+
					"dism /Online /Import-DefaultAppAssociations:%s\n",
					windows.DispatcherName, orDefault(o.PreviousBrowser, windows.DefaultPrevious), windows.WinPath(windows.DefaultAssociationsFile))
			}}
	}
	res, err := fileset.Writer{Root: o.Root, Manifest: tg.manifest, Owned: tg.owned, Log: o.Log}.Apply(tg.set)
	if err != nil {
		return res, fmt.Errorf("writing under %s: %w", o.Root, err)
	}
	fmt.Fprintf(out, "%s for tenant %s (%s routing, %s) under %s:\n", tg.what, c.Tenant, c.Routing, c.Domain, o.Root)
	for _, p := range res.Written {
		fmt.Fprintf(out, "  wrote     %s\n", p)
	}
	for _, p := range res.Removed {
		fmt.Fprintf(out, "  removed   %s\n", p)
	}
	for _, p := range res.Kept {
		fmt.Fprintf(out, "  kept      %s (changed by someone else since written; remove it by hand if it is not needed)\n", p)
	}
	fmt.Fprintf(out, "%d written, %d unchanged, %d removed; the manifest is %s.\n",
		len(res.Written), len(res.Unchanged), len(res.Removed), filepath.Join(o.Root, filepath.FromSlash(tg.manifest)))
	if tg.report != nil {
		tg.report(out)
	}
	if o.OS == "windows" {
		if o.Registry == nil {
			fmt.Fprintf(out, "The registry was not touched: review %s and import it (reg import), or run with --registry on the PC.\n",
				filepath.Join(o.Root, filepath.FromSlash(windows.RegFile)))
			return res, nil
		}
		if err := winreg.Apply(o.Registry, vs); err != nil {
			return res, fmt.Errorf("writing the registry: %w", err)
		}
		fmt.Fprintf(out, "The registry holds the %d values of %s.\n", len(vs), windows.RegFile)
	}
	return res, nil
}

// seedLocalState seeds Chromium's Local State in the existing homes under
// root (localstate.SeedHomes) so that their first app window signs in with
// Kerberos, and tells w what it did; a home it must leave alone is
// reported, not an error, since the launchers are written.
func seedLocalState(w io.Writer, root string, c chromium.Candidate) {
	res, err := localstate.SeedHomes(root, c)
	if err != nil {
		fmt.Fprintf(w, "Kerberos in the first app window: homes not seeded: %v\n", err)
		return
	}
	for _, r := range res {
		switch {
		case errors.Is(r.Err, localstate.ErrBrowserRunning):
			fmt.Fprintf(w, "  left      %s's %s/%s: the browser is running; render again once it is closed\n", r.User.Name, r.Dir, localstate.FileName)
		case r.Err != nil:
			fmt.Fprintf(w, "  left      %s's %s/%s: %v\n", r.User.Name, r.Dir, localstate.FileName, r.Err)
		case r.Changed:
			fmt.Fprintf(w, "  seeded    %s's %s/%s (Kerberos from the first window)\n", r.User.Name, r.Dir, localstate.FileName)
		}
	}
}

// linuxDispatcher gathers what the dispatcher's files depend on under the
// root: the mimeapps.list to merge into, and the previous browser.
func linuxDispatcher(o RenderOptions) (xdg.Dispatcher, []string, error) {
	d := xdg.Dispatcher{Agent: o.Agent, StateFile: o.DispatchState}
	if d.Agent != "" && !strings.HasPrefix(d.Agent, "/") {
		return d, nil, fmt.Errorf("--agent %s: want an absolute path", strconv.Quote(d.Agent))
	}
	list, err := os.ReadFile(filepath.Join(o.Root, filepath.FromSlash(xdg.MimeappsList)))
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return d, nil, fmt.Errorf("reading the system mimeapps.list: %w", err)
	}
	d.Mimeapps = list
	fsys := os.DirFS(o.Root)
	if o.PreviousBrowser != "" {
		argv, from, err := xdg.BrowserCommand(fsys, o.PreviousBrowser)
		if err != nil {
			return d, nil, fmt.Errorf("--previous-browser %s: %w", strconv.Quote(o.PreviousBrowser), err)
		}
		d.Previous = xdg.Previous{Argv: argv, From: from + " (given with --previous-browser)"}
		return d, nil, nil
	}
	var kept xdg.Previous
	var notes []string
	if old, err := LoadState(filepath.Join(o.Root, filepath.FromSlash(xdg.DispatchState))); err == nil {
		kept = xdg.Previous{Argv: old.Previous, From: old.PreviousFrom}
	} else if !errors.Is(err, ErrNoState) {
		notes = append(notes, "the earlier state is unreadable and is replaced: "+err.Error())
	}
	prev, skipped := xdg.FindPrevious(fsys, kept)
	d.Previous = prev
	for _, s := range skipped {
		notes = append(notes, "not used: "+s)
	}
	if len(kept.Argv) > 0 && slices.Equal(prev.Argv, kept.Argv) && prev.From == kept.From {
		notes = append(notes, "the previous browser is the one an earlier render recorded")
	}
	return d, notes, nil
}

func reportLinuxDispatcher(out io.Writer, d xdg.Dispatcher, notes []string) {
	if len(d.Previous.Argv) == 0 {
		fmt.Fprintf(out, "URL dispatcher: the default for http and https; no previous default browser was found, so links that are not the tenant's will not open: render again with --previous-browser ID.desktop.\n")
	} else {
		fmt.Fprintf(out, "URL dispatcher: the default for http and https; links that are not the tenant's go to %s (%s).\n",
			strings.Join(d.Previous.Argv, " "), d.Previous.From)
	}
	for _, n := range notes {
		fmt.Fprintf(out, "  %s\n", n)
	}
	fmt.Fprintf(out, "Users who chose their own default browser keep it (~/.config/mimeapps.list wins); as the user, `xdg-settings set default-web-browser %s` routes their links too.\n", xdg.DispatcherID)
}

// macosDispatcher fills in the macOS dispatcher: app windows open in the
// first Chromium of macos.ChromeExecutables present under the root, else in
// Google Chrome's usual place.
func macosDispatcher(o RenderOptions) macos.Dispatcher {
	d := macos.Dispatcher{Previous: o.PreviousBrowser}
	for _, b := range macos.ChromeExecutables {
		if st, err := os.Stat(filepath.Join(o.Root, filepath.FromSlash(b))); err == nil && st.Mode().IsRegular() {
			d.Browser = b
			break
		}
	}
	return d
}

func reportMacOSDispatcher(out io.Writer, d macos.Dispatcher) {
	fmt.Fprintf(out, "URL dispatcher: /%s declares http and https (%s); links that are not the tenant's go to %s.\n",
		macos.DispatcherBundle, macos.DispatcherID, strings.Join(d.PreviousArgv(), " "))
	fmt.Fprintf(out, "It is not the default browser yet: each user picks %q under System Settings > Desktop & Dock > Default web browser\n"+
		"(macOS asks the user to confirm any change); see docs/launchers.md.\n", macos.DispatcherName)
}

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

func findBrowser(explicit string, look chromium.LookPath) (chromium.Browser, error) {
	if explicit != "" {
		if !filepath.IsAbs(explicit) {
			return chromium.Browser{}, fmt.Errorf("--browser %q: want an absolute path", explicit)
		}
		return chromium.Browser{Candidate: chromium.Candidate{Command: explicit}, Path: explicit}, nil
	}
	if look == nil {
		look = exec.LookPath
	}
	return chromium.Find(look, chromium.LinuxCandidates)
}

// ExplainOptions are the inputs of Explain.
type ExplainOptions struct {
	Source
	// Browser is the Chromium app windows would use; empty means look it up.
	Browser string
	// LookPath finds the browser; nil means exec.LookPath.
	LookPath chromium.LookPath
	// Previous is the command of the previous default browser (an
	// absolute path); empty when none is recorded.
	Previous string
	// StateFile, instead of the fields above, explains from the installed
	// dispatcher's state, exactly as Dispatch would decide.
	StateFile string
	// JSON selects the versioned JSON output.
	JSON bool
}

// Explain prints where url would go and why, without opening anything.
func Explain(out io.Writer, url string, o ExplainOptions) error {
	self, _ := os.Executable()
	if o.StateFile != "" {
		if o.CatalogFile != "" || o.Tenant != "" || o.Routing != "" || o.Browser != "" || o.Previous != "" {
			return errors.New("explain from the dispatcher's state, or from a catalog with a browser and a previous browser, not both")
		}
		st, err := LoadState(o.StateFile)
		if err != nil {
			return err
		}
		return dispatch.Explain(out, url, st.Config(self), o.JSON)
	}
	c, err := o.Load()
	if err != nil {
		return err
	}
	cfg := dispatch.Config{Catalog: c}
	if b, err := findBrowser(o.Browser, o.LookPath); err == nil {
		cfg.Browser = b.Path
	} else if o.Browser != "" {
		return err
	}
	if o.Previous != "" {
		if !filepath.IsAbs(o.Previous) {
			return fmt.Errorf("--previous-browser %s: want an absolute path", strconv.Quote(o.Previous))
		}
		cfg.Previous = []string{o.Previous}
	}
	cfg.Self = self
	return dispatch.Explain(out, url, cfg, o.JSON)
}
