// Package dispatch is the v2 URL dispatcher's routing (seed "Desktop apps",
// C5): a pure function from a URL, the tenant's catalog and what is
// installed to a decision — open the URL in the matching launcher's app
// window, hand it to the browser that was the default before, or refuse
// it — with the exact argv to exec and the reason — and the state file the
// installed dispatcher decides from (State: the catalog, the Chromium, the
// previous browser). It never runs anything and never builds a shell
// command: the argv goes to exec as it is.
//
// A URL reaches an app window only when it is unambiguous: https (or http,
// upgraded) on the default port, no user info, an ASCII host that is
// exactly one of the tenant's app hosts (after lowercasing and dropping one
// trailing dot), and, with path routing, a first path segment that is
// exactly the app's route with no dot segments. Anything a browser might
// read differently from Go's URL parser (backslashes, percent signs or
// non-ASCII in the host part) goes to the previous browser instead, which
// is where every URL went before the dispatcher existed.
package dispatch

import (
	"fmt"
	"net/url"
	"path/filepath"
	"strings"

	"github.com/kiwistack/endpoint/launchers/catalog"
	"github.com/kiwistack/endpoint/launchers/chromium"
)

// MaxURLBytes is the longest URL the dispatcher accepts (Chromium's own
// limit is 2 MiB; links longer than this are not links people click).
const MaxURLBytes = 32 << 10

// Config is what the decision depends on besides the URL.
type Config struct {
	// Catalog is the tenant's validated catalog.
	Catalog *catalog.Catalog
	// Browser is the absolute path of the Chromium that opens app windows
	// (chromium.Find); empty when none is installed.
	Browser string
	// Previous is the argv prefix of the browser that was the default
	// before the dispatcher (remembered at install); the URL is appended.
	// Empty when none was recorded.
	Previous []string
	// Self is the dispatcher's own executable, so that it never hands a
	// URL back to itself.
	Self string
}

// Target is where a URL goes.
type Target string

const (
	// ToLauncher opens the URL in a launcher's app window.
	ToLauncher Target = "launcher"
	// ToPrevious hands the URL to the previous default browser.
	ToPrevious Target = "previous-browser"
	// Refused opens nothing.
	Refused Target = "refused"
)

// Reason codes, stable for scripts (the JSON output carries them).
const (
	ReasonApp          = "tenant-app"         // one of the tenant's app URLs
	ReasonNativeApp    = "native-app"         // the app is native (Element), it has no app window
	ReasonNoAppBrowser = "no-app-browser"     // a tenant app, but no Chromium is installed
	ReasonTenantNoApp  = "tenant-host-no-app" // under the tenant's domain, but no launcher's route
	ReasonOtherHost    = "other-host"         // not the tenant's
	ReasonScheme       = "scheme"             // not http or https
	ReasonUserinfo     = "userinfo"           // carries user info: user@host
	ReasonPort         = "port"               // a port that is not the scheme's default
	ReasonAmbiguous    = "ambiguous"          // characters browsers and Go may read differently
	ReasonIDN          = "idn-host"           // a non-ASCII host
	ReasonDotSegment   = "dot-segment"        // "." or ".." in the path of a path-routed app
	ReasonUnparseable  = "unparseable"        // not a URL
	ReasonEmpty        = "empty"              // nothing to open
	ReasonOptionLike   = "option-like"        // starts with '-', would read as a command-line option
	ReasonControl      = "control-characters" // control characters in the URL
	ReasonTooLong      = "too-long"           // longer than MaxURLBytes
	ReasonLoop         = "loop"               // the previous browser is the dispatcher itself
)

// Decision is where a URL goes, and why.
type Decision struct {
	Target Target
	// Launcher is the launcher's id, for ToLauncher and for the native-app
	// case.
	Launcher string
	// URL is what is opened: normalised for a launcher (https, lowercase
	// host, no trailing dot or default port), as given for the previous
	// browser.
	URL string
	// Argv is the exact argv to exec; empty when Refused, or when no
	// previous browser is recorded.
	Argv []string
	// Reason is one of the Reason codes.
	Reason string
	// Explanation says the same in a sentence for people.
	Explanation string
}

// Decide routes raw.
func Decide(raw string, cfg Config) Decision {
	d, ok := refuse(raw)
	if ok {
		return d
	}
	d = route(raw, cfg)
	if d.Target == ToLauncher {
		return d
	}
	return toPrevious(d, raw, cfg)
}

func refuse(raw string) (Decision, bool) {
	no := func(reason, why string) (Decision, bool) {
		return Decision{Target: Refused, Reason: reason, Explanation: why}, true
	}
	switch {
	case raw == "":
		return no(ReasonEmpty, "the URL is empty")
	case len(raw) > MaxURLBytes:
		return no(ReasonTooLong, fmt.Sprintf("the URL is longer than %d bytes", MaxURLBytes))
	case raw[0] == '-':
		return no(ReasonOptionLike, "the URL starts with '-' and would be read as a command-line option")
	}
	for i := 0; i < len(raw); i++ {
		if raw[i] < 0x20 || raw[i] == 0x7f {
			return no(ReasonControl, "the URL holds control characters")
		}
	}
	return Decision{}, false
}

// route decides between a launcher and the previous browser; the latter
// gets its argv in toPrevious.
func route(raw string, cfg Config) Decision {
	prev := func(reason, format string, a ...any) Decision {
		return Decision{Target: ToPrevious, Reason: reason, Explanation: fmt.Sprintf(format, a...)}
	}
	c := cfg.Catalog
	// The scheme and the authority are read from the text first: the checks
	// that keep disguised hosts out must not depend on what Go's parser
	// accepts.
	scheme, after, ok := strings.Cut(raw, ":")
	if !ok || !validScheme(scheme) {
		return prev(ReasonUnparseable, "it has no URL scheme")
	}
	scheme = strings.ToLower(scheme)
	if scheme != "https" && scheme != "http" {
		return prev(ReasonScheme, "the scheme %q is not http or https", scheme)
	}
	if strings.Contains(raw, `\`) {
		return prev(ReasonAmbiguous, "it holds a backslash, which browsers read as '/' and Go does not")
	}
	rest, ok := strings.CutPrefix(after, "//")
	if !ok {
		return prev(ReasonAmbiguous, "there is no \"//\" after the scheme")
	}
	authority := rest
	if i := strings.IndexAny(rest, "/?#"); i >= 0 {
		authority = rest[:i]
	}
	if strings.Contains(authority, "@") {
		return prev(ReasonUserinfo, "it carries user info (user@host), a way to disguise the real host")
	}
	if strings.ContainsAny(authority, "% ") {
		return prev(ReasonAmbiguous, "the host holds a percent sign or a space, which browsers may decode differently")
	}
	for i := 0; i < len(authority); i++ {
		if authority[i] >= 0x80 {
			return prev(ReasonIDN, "the host is internationalized (non-ASCII); the tenant's hosts are ASCII")
		}
	}
	u, err := url.Parse(raw)
	if err != nil || u.User != nil {
		return prev(ReasonUnparseable, "it is not a URL Go can parse")
	}
	host := strings.ToLower(u.Hostname())
	host = strings.TrimSuffix(host, ".")
	if host == "" || strings.HasSuffix(host, ".") {
		return prev(ReasonUnparseable, "the host is empty or malformed")
	}
	if p := u.Port(); p != "" && !(u.Scheme == "https" && p == "443" || u.Scheme == "http" && p == "80") {
		return prev(ReasonPort, "port %s is not the default port of %s", p, u.Scheme)
	}
	if host != c.Domain && !strings.HasSuffix(host, "."+c.Domain) {
		return prev(ReasonOtherHost, "the host %s is not under the tenant's domain %s", host, c.Domain)
	}
	var l *catalog.Launcher
	switch c.Routing {
	case catalog.Subdomain:
		if label, ok := strings.CutSuffix(host, "."+c.Domain); ok && !strings.Contains(label, ".") {
			l = c.Launcher(label)
		}
		if l == nil {
			return prev(ReasonTenantNoApp, "the host %s is the tenant's but no launcher's", host)
		}
	case catalog.Path:
		if host != c.Domain {
			return prev(ReasonTenantNoApp, "with path routing the apps live on %s, not %s", c.Domain, host)
		}
		p := u.EscapedPath()
		for _, seg := range strings.Split(p, "/") {
			s := strings.ToLower(strings.ReplaceAll(strings.ReplaceAll(seg, "%2E", "."), "%2e", "."))
			if s == "." || s == ".." {
				return prev(ReasonDotSegment, "the path has a dot segment, which browsers resolve before routing")
			}
		}
		first := strings.TrimPrefix(p, "/")
		if i := strings.IndexByte(first, '/'); i >= 0 {
			first = first[:i]
		}
		if first != "" {
			l = c.Launcher(first)
		}
		if l == nil {
			return prev(ReasonTenantNoApp, "the path /%s is no launcher's route on %s", first, host)
		}
	}
	if l.Kind == catalog.Element {
		d := prev(ReasonNativeApp, "%s is %s, a native app without an app window for web links", l.Name, l.Comment)
		d.Launcher = l.ID
		return d
	}
	if cfg.Browser == "" {
		d := prev(ReasonNoAppBrowser, "it is the %s app's, but no Chromium is installed to open its app window", l.ID)
		d.Launcher = l.ID
		return d
	}
	n := *u
	n.Scheme = "https"
	n.Host = host
	n.User = nil
	n.RawQuery = escapeQuery(n.RawQuery)
	norm := n.String()
	why := fmt.Sprintf("%s is the %s app's (%s routing)", host, l.ID, c.Routing)
	if c.Routing == catalog.Path {
		why = fmt.Sprintf("/%s on %s is the %s app's route (path routing)", l.ID, host, l.ID)
	}
	if u.Scheme == "http" {
		why += "; upgraded to https"
	}
	return Decision{
		Target:      ToLauncher,
		Launcher:    l.ID,
		URL:         norm,
		Argv:        append([]string{cfg.Browser}, chromium.AppArgs(norm)...),
		Reason:      ReasonApp,
		Explanation: why,
	}
}

func toPrevious(d Decision, raw string, cfg Config) Decision {
	d.URL = raw
	if len(cfg.Previous) == 0 || cfg.Previous[0] == "" {
		d.Explanation += "; no previous default browser is recorded"
		return d
	}
	if cfg.Self != "" && (cfg.Previous[0] == cfg.Self || filepath.Base(cfg.Previous[0]) == filepath.Base(cfg.Self)) {
		return Decision{Target: Refused, Launcher: d.Launcher, Reason: ReasonLoop,
			Explanation: "the recorded previous browser is the dispatcher itself; opening would loop (" + d.Explanation + ")"}
	}
	d.Argv = append(append([]string(nil), cfg.Previous...), raw)
	return d
}

// validScheme reports whether s is an RFC 3986 scheme.
func validScheme(s string) bool {
	if s == "" || !(s[0] >= 'a' && s[0] <= 'z' || s[0] >= 'A' && s[0] <= 'Z') {
		return false
	}
	for i := 1; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '+' || c == '-' || c == '.') {
			return false
		}
	}
	return true
}

// escapeQuery percent-encodes what the WHATWG URL standard's query
// percent-encode set holds and Go keeps verbatim (space, double and single
// quotes, angle brackets, backtick and non-ASCII), as the browser would, so
// that the URL handed to the app window is plain ASCII without spaces or
// quotes.
func escapeQuery(q string) string {
	const hex = "0123456789ABCDEF"
	var b []byte
	for i := 0; i < len(q); i++ {
		c := q[i]
		if c == ' ' || c == '"' || c == '<' || c == '>' || c == '\'' || c == '`' || c >= 0x80 {
			if b == nil {
				b = append(make([]byte, 0, len(q)+8), q[:i]...)
			}
			b = append(b, '%', hex[c>>4], hex[c&15])
			continue
		}
		if b != nil {
			b = append(b, c)
		}
	}
	if b == nil {
		return q
	}
	return string(b)
}
