// Package chromium knows how the Chromium family is invoked for the
// launchers: which browser binaries exist on Linux and where each reads
// managed policy, the app-mode argv (--app=URL --profile-directory=Work),
// and the window identity Chromium gives an app window (the X11 WM_CLASS
// and the Wayland app ID), so that the dock matches the window to our
// launcher. It runs nothing and writes nothing; the lookup of binaries is
// injected.
package chromium

import (
	"errors"
	"fmt"
	"net/url"
	"strings"
)

// Profile is the Chromium profile directory every launcher shares (seed
// C2): one Keycloak cookie for all app windows, and the user's default
// profile stays untouched.
const Profile = "Work"

// Candidate is a Chromium-family browser a Linux machine may have.
type Candidate struct {
	// Command is looked up with the injected LookPath: a name searched in
	// PATH, or an absolute path.
	Command string
	// Flavor names the build: "chromium" or "google-chrome".
	Flavor string
	// PolicyDir is the managed-policy directory this build reads.
	PolicyDir string
}

// LinuxCandidates are tried in order by Find.
//
//   - Debian's chromium package: /usr/bin/chromium, policy in
//     /etc/chromium/policies/managed.
//   - Ubuntu: chromium-browser (a transitional package that runs the snap)
//     and the snap itself, /snap/bin/chromium; the snap reads
//     /etc/chromium-browser/policies/managed through its
//     etc-chromium-browser-policies system-files plug (see `snap
//     connections chromium`).
//   - Google Chrome: google-chrome-stable and its google-chrome link, policy
//     in /etc/opt/chrome/policies/managed.
var LinuxCandidates = []Candidate{
	{"chromium", "chromium", "/etc/chromium/policies/managed"},
	{"chromium-browser", "chromium", "/etc/chromium-browser/policies/managed"},
	{"/snap/bin/chromium", "chromium", "/etc/chromium-browser/policies/managed"},
	{"google-chrome-stable", "google-chrome", "/etc/opt/chrome/policies/managed"},
	{"google-chrome", "google-chrome", "/etc/opt/chrome/policies/managed"},
}

// LinuxPolicyDirs are all the managed-policy directories of
// LinuxCandidates. The policy goes into each of them, so that it is in
// force whichever browser the user ends up with.
var LinuxPolicyDirs = []string{
	"/etc/chromium/policies/managed",
	"/etc/chromium-browser/policies/managed",
	"/etc/opt/chrome/policies/managed",
}

// ErrNotFound is returned by Find when no candidate is installed.
var ErrNotFound = errors.New("no Chromium or Google Chrome found (install the chromium package, the chromium snap or google-chrome-stable)")

// Browser is the browser Find chose.
type Browser struct {
	Candidate
	// Path is the absolute path LookPath returned.
	Path string
}

// LookPath finds an executable as exec.LookPath does; tests pass a fake.
type LookPath func(file string) (string, error)

// Find returns the first of candidates that look finds at an absolute
// path.
func Find(look LookPath, candidates []Candidate) (Browser, error) {
	for _, c := range candidates {
		p, err := look(c.Command)
		if err == nil && strings.HasPrefix(p, "/") {
			return Browser{Candidate: c, Path: p}, nil
		}
	}
	return Browser{}, ErrNotFound
}

// AppArgs returns the arguments that open url as an app window in the Work
// profile. They follow the binary in an argv; no shell is involved.
func AppArgs(url string) []string {
	return []string{"--app=" + url, "--profile-directory=" + Profile}
}

// appName is Chromium's web_app::GenerateApplicationNameFromURL: host, "_",
// path (chrome/browser/web_applications/web_app_helpers.cc:
// base::StrCat({url.host_piece(), "_", url.path_piece()})). GURL's host
// has no port, and an empty path is "/".
func appName(raw string) (string, error) {
	for i := 0; i < len(raw); i++ {
		if raw[i] < 0x21 || raw[i] > 0x7e {
			return "", fmt.Errorf("app URL %q: only printable ASCII is supported", raw)
		}
	}
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Hostname() == "" {
		return "", fmt.Errorf("app URL %q: not an http(s) URL", raw)
	}
	p := u.EscapedPath()
	if p == "" {
		p = "/"
	}
	return strings.ToLower(u.Hostname()) + "_" + p, nil
}

// replaceIllegal is base::i18n::ReplaceIllegalCharactersInPath for ASCII
// input (base/i18n/file_util_icu.cc): the characters "~*/:<>?\| and
// control characters become c anywhere, and whitespace or '.' become c at
// either end.
func replaceIllegal(s string, c byte) string {
	b := []byte(s)
	for i, ch := range b {
		if ch < 0x20 || ch == 0x7f || strings.IndexByte(`"~*/:<>?\|`, ch) >= 0 {
			b[i] = c
		}
	}
	ends := func(ch byte) bool {
		return ch == '.' || ch == ' ' || ch == '\t' || ch == '\n' || ch == '\v' || ch == '\f' || ch == '\r'
	}
	if len(b) > 0 && ends(b[0]) {
		b[0] = c
	}
	if len(b) > 0 && ends(b[len(b)-1]) {
		b[len(b)-1] = c
	}
	return string(b)
}

// WMClass returns the X11 WM_CLASS instance name (res_name) Chromium gives
// the app window of `--app=URL`, which a desktop entry's StartupWMClass must
// equal for the dock to show the launcher's icon.
//
// Chromium on Linux sets, for an app window
// (chrome/browser/ui/views/frame/desktop_browser_frame_aura_linux.cc,
// DesktopBrowserFrameAuraLinux::GetWidgetParams):
//
//	wm_class_name  = shell_integration_linux::GetWMClassFromAppName(browser.app_name())
//	wm_class_class = shell_integration_linux::GetProgramClassClass()  // "Chromium", "Google-chrome"
//
// where app_name is GenerateApplicationNameFromURL(url) = host + "_" + path,
// and GetWMClassFromAppName (chrome/browser/shell_integration_linux.cc)
// replaces the characters illegal in file names with '_' and trims '_' from
// both ends. So https://mail.od.acme.kiwistack.io/ gives
// "mail.od.acme.kiwistack.io" and https://od.acme.kiwistack.io/mail/ gives
// "od.acme.kiwistack.io__mail". The class is the instance name, not the
// program's class, so windows of different apps group apart.
//
// Read from Chromium's source, and confirmed on Debian's Chromium 156
// under Xvfb with xprop, in both routing shapes (launchers/xdg,
// TestAppWindowClassUnderXvfb).
func WMClass(appURL string) (string, error) {
	name, err := appName(appURL)
	if err != nil {
		return "", err
	}
	return strings.Trim(replaceIllegal(name, '_'), "_"), nil
}

// WaylandAppID returns the xdg-shell app ID Chromium gives the same window
// under Wayland, where the compositor matches it against desktop-file IDs
// rather than StartupWMClass: shell_integration_linux::GetXdgAppIdForWebApp
// is the base name of web_app::GetAppDesktopShortcutFilename(profile,
// app_name), which is "chrome-" + app_name + "-" + profile directory with
// illegal characters replaced by '_' and spaces by '_', not trimmed. For
// https://mail.od.acme.kiwistack.io/ in the Work profile that is
// "chrome-mail.od.acme.kiwistack.io__-Work". Not yet confirmed on a real
// compositor.
func WaylandAppID(appURL string) (string, error) {
	name, err := appName(appURL)
	if err != nil {
		return "", err
	}
	id := replaceIllegal("chrome-"+name+"-"+Profile, '_')
	return strings.ReplaceAll(id, " ", "_"), nil
}
