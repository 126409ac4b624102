// Package macos renders everything the macOS track (BYOL) of seed "Desktop
// apps" puts on a Mac for a catalog: one minimal .app bundle per Chromium
// launcher in /Applications/KiwiStack (Info.plist, a sh wrapper that execs
// Google Chrome or Chromium in app mode in the Work profile, the icon as
// .icns), the managed policy as preference plists for
// /Library/Managed Preferences, and the same policy as a configuration
// profile (.mobileconfig) for the MDM to push; and the URL dispatcher's
// bundle (KiwiStack.app, a handler of http and https whose executable execs
// `kiwistack-agent dispatch --apple-events`) with its state. Render and
// RenderDispatcher are pure functions from a validated catalog to a
// fileset.Set; writing it is fileset.Writer's job.
// Element Desktop and the Nextcloud client are installed and configured by
// the MDM on macOS (their own packages), so no file here is theirs.
package macos

import (
	"fmt"
	"io/fs"
	"path"
	"strings"

	"github.com/kiwistack/endpoint/launchers/appbundle"
	"github.com/kiwistack/endpoint/launchers/catalog"
	"github.com/kiwistack/endpoint/launchers/chromepolicy"
	"github.com/kiwistack/endpoint/launchers/chromium"
	"github.com/kiwistack/endpoint/launchers/fileset"
	"github.com/kiwistack/endpoint/launchers/icon"
	"github.com/kiwistack/endpoint/launchers/mobileconfig"
)

// Paths relative to the root.
const (
	// Manifest is where the macOS writer records what it owns.
	Manifest = "Library/Application Support/KiwiStack/launchers/darwin.json"
	// AppsDir holds the launchers' bundles; the writer owns it, so a
	// bundle that leaves the catalog goes entirely.
	AppsDir = "Applications/KiwiStack"
	// ManagedPreferencesDir is where macOS keeps forced preferences, one
	// plist per domain.
	ManagedPreferencesDir = "Library/Managed Preferences"
	// ProfilesDir is where the configuration profile is left for the MDM
	// (or an admin) to install.
	ProfilesDir = "Library/Application Support/KiwiStack/profiles"
)

// PolicyDomains are the preference domains Chromium and Google Chrome read
// managed policy from.
var PolicyDomains = []string{"org.chromium.Chromium", "com.google.Chrome"}

// BundleVersion is CFBundleVersion of the bundles; it changes when their
// layout does.
const BundleVersion = "1"

// BundleID returns the launcher's CFBundleIdentifier. It has no tenant in
// it, so a Dock item stays valid when a Mac changes tenant.
func BundleID(l *catalog.Launcher) string { return "io.kiwistack.launcher." + l.ID }

// Executable returns the name of the bundle's wrapper in Contents/MacOS.
func Executable(l *catalog.Launcher) string { return "kiwistack-" + l.ID }

// BundleDir returns the bundle's path relative to the root: the launcher's
// name, which Finder, Launchpad and the Dock show, plus ".app".
func BundleDir(l *catalog.Launcher) string { return path.Join(AppsDir, l.Name+".app") }

// ProfileIdentifier returns the configuration profile's PayloadIdentifier
// for a tenant; the payload UUIDs are derived from it.
func ProfileIdentifier(c *catalog.Catalog) string {
	return "io.kiwistack." + c.Tenant + ".browser-policy"
}

// ProfilePath returns where the configuration profile is written, relative
// to the root.
func ProfilePath(c *catalog.Catalog) string {
	return path.Join(ProfilesDir, ProfileIdentifier(c)+".mobileconfig")
}

// Profile returns the configuration profile carrying the policy for both
// browsers, each value in its plist type (chromepolicy.Policy.Map).
func Profile(c *catalog.Catalog) mobileconfig.Profile {
	p := mobileconfig.Profile{
		Identifier:  ProfileIdentifier(c),
		DisplayName: "KiwiStack browser policy for " + c.Tenant,
		Description: "Lets Google Chrome and Chromium sign in to the apps under " + c.Domain +
			" with Kerberos and present the device's app certificate to them without asking. Nothing else is set.",
		Organization: "KiwiStack",
	}
	for _, d := range PolicyDomains {
		p.Preferences = append(p.Preferences, mobileconfig.Preferences{Domain: d, Settings: chromepolicy.For(c).Map()})
	}
	return p
}

// Render returns the macOS files for catalog c.
func Render(c *catalog.Catalog) (fileset.Set, error) {
	if err := c.Validate(); err != nil {
		return nil, err
	}
	var set fileset.Set
	add := func(p string, data []byte, mode fs.FileMode) {
		set = append(set, fileset.File{Path: p, Data: data, Mode: mode})
	}
	web, specs := c.Web()
	icns, err := icon.Batch(specs, icon.ICNS)
	if err != nil {
		return nil, err
	}
	names := map[string]string{}
	for i, l := range web {
		// APFS and HFS+ are case-insensitive by default: two names that
		// differ only in case would be one bundle.
		if other, dup := names[strings.ToLower(l.Name)]; dup {
			return nil, fmt.Errorf("launchers %s and %s: names %q and %q are the same bundle on a case-insensitive file system", other, l.ID, c.Launcher(other).Name, l.Name)
		}
		names[strings.ToLower(l.Name)] = l.ID
		dir := BundleDir(l)
		info, err := appbundle.Info{
			Identifier: BundleID(l),
			Name:       l.Name,
			Executable: Executable(l),
			IconFile:   Executable(l) + ".icns",
			Version:    BundleVersion,
		}.Plist()
		if err != nil {
			return nil, fmt.Errorf("launcher %s: %w", l.ID, err)
		}
		wrapper, err := appbundle.Wrapper(BundleID(l), chromium.AppArgs(l.URL))
		if err != nil {
			return nil, fmt.Errorf("launcher %s: %w", l.ID, err)
		}
		add(path.Join(dir, "Contents/Info.plist"), info, 0o644)
		add(path.Join(dir, "Contents/MacOS", Executable(l)), wrapper, 0o755)
		add(path.Join(dir, "Contents/Resources", Executable(l)+".icns"), icns[i], 0o644)
	}
	// Each policy in the type Chromium reads it as on macOS: a <string>,
	// <true/> or an <array> of <string> (docs/launchers.md).
	polPlist, err := appbundle.Marshal(chromepolicy.For(c).Map())
	if err != nil {
		return nil, err
	}
	for _, d := range PolicyDomains {
		add(path.Join(ManagedPreferencesDir, d+".plist"), polPlist, 0o644)
	}
	profile, err := Profile(c).Render()
	if err != nil {
		return nil, err
	}
	add(ProfilePath(c), profile, 0o644)
	return set, nil
}
