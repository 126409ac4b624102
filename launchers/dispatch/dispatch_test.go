package dispatch

import (
	"bytes"
	"encoding/json"
	"net/url"
	"reflect"
	"strings"
	"testing"

	"github.com/kiwistack/endpoint/launchers/catalog"
	"github.com/kiwistack/endpoint/launchers/dispatch/dispatchjson"
)

const chromiumBin = "/usr/bin/chromium"

var firefox = []string{"/usr/bin/firefox"}

func config(t testing.TB, r catalog.Routing) Config {
	c, err := catalog.Defaults("acme", r)
	if err != nil {
		t.Fatal(err)
	}
	return Config{Catalog: c, Browser: chromiumBin, Previous: firefox, Self: "/usr/bin/kiwistack-agent"}
}

func app(u string) []string {
	return []string{chromiumBin, "--app=" + u, "--profile-directory=Work"}
}

func prev(u string) []string { return append(append([]string(nil), firefox...), u) }

type routeCase struct {
	name     string
	in       string
	target   Target
	launcher string
	argv     []string
	reason   string
}

func run(t *testing.T, cfg Config, cases []routeCase) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			d := Decide(tc.in, cfg)
			if d.Target != tc.target || d.Launcher != tc.launcher || d.Reason != tc.reason || !reflect.DeepEqual(d.Argv, tc.argv) {
				t.Errorf("Decide(%q) =\n  %s %q %s %q (%s)\nwant\n  %s %q %s %q", tc.in, d.Target, d.Launcher, d.Reason, d.Argv, d.Explanation,
					tc.target, tc.launcher, tc.reason, tc.argv)
			}
			if d.Explanation == "" {
				t.Errorf("no explanation")
			}
		})
	}
}

func TestSubdomainRouting(t *testing.T) {
	run(t, config(t, catalog.Subdomain), []routeCase{
		{"app root", "https://mail.od.acme.kiwistack.io/", ToLauncher, "mail", app("https://mail.od.acme.kiwistack.io/"), ReasonApp},
		{"deep link keeps path query fragment", "https://files.od.acme.kiwistack.io/apps/files/?dir=/Photos#x", ToLauncher, "files",
			app("https://files.od.acme.kiwistack.io/apps/files/?dir=/Photos#x"), ReasonApp},
		{"no path", "https://meet.od.acme.kiwistack.io", ToLauncher, "meet", app("https://meet.od.acme.kiwistack.io"), ReasonApp},
		{"mixed case host and scheme", "HTTPS://Mail.OD.Acme.KiwiStack.IO/x", ToLauncher, "mail", app("https://mail.od.acme.kiwistack.io/x"), ReasonApp},
		{"trailing dot", "https://wiki.od.acme.kiwistack.io./bin/view", ToLauncher, "wiki", app("https://wiki.od.acme.kiwistack.io/bin/view"), ReasonApp},
		{"default port", "https://notes.od.acme.kiwistack.io:443/pad", ToLauncher, "notes", app("https://notes.od.acme.kiwistack.io/pad"), ReasonApp},
		{"http upgraded", "http://projects.od.acme.kiwistack.io/wp", ToLauncher, "projects", app("https://projects.od.acme.kiwistack.io/wp"), ReasonApp},
		{"http default port upgraded", "http://projects.od.acme.kiwistack.io:80/", ToLauncher, "projects", app("https://projects.od.acme.kiwistack.io/"), ReasonApp},
		{"query spaces and quotes encoded", "https://mail.od.acme.kiwistack.io/?q=a b\"<x>'", ToLauncher, "mail", app("https://mail.od.acme.kiwistack.io/?q=a%20b%22%3Cx%3E%27"), ReasonApp},
		{"percent-encoded path kept", "https://wiki.od.acme.kiwistack.io/a%20b", ToLauncher, "wiki", app("https://wiki.od.acme.kiwistack.io/a%20b"), ReasonApp},
		{"dot segments stay on the same app", "https://wiki.od.acme.kiwistack.io/a/../b", ToLauncher, "wiki", app("https://wiki.od.acme.kiwistack.io/a/../b"), ReasonApp},
		{"chat is native", "https://chat.od.acme.kiwistack.io/#/room/x", ToPrevious, "chat", prev("https://chat.od.acme.kiwistack.io/#/room/x"), ReasonNativeApp},
		{"look-alike suffix", "https://mail.od.acme.kiwistack.io.evil.com/", ToPrevious, "", prev("https://mail.od.acme.kiwistack.io.evil.com/"), ReasonOtherHost},
		{"look-alike prefix", "https://evilmail.od.acme.kiwistack.io.com/", ToPrevious, "", prev("https://evilmail.od.acme.kiwistack.io.com/"), ReasonOtherHost},
		{"look-alike label", "https://mail-od-acme.kiwistack.io/", ToPrevious, "", prev("https://mail-od-acme.kiwistack.io/"), ReasonOtherHost},
		{"other tenant", "https://mail.od.other.kiwistack.io/", ToPrevious, "", prev("https://mail.od.other.kiwistack.io/"), ReasonOtherHost},
		{"tenant suffix without dot", "https://mailod.acme.kiwistack.io/", ToPrevious, "", prev("https://mailod.acme.kiwistack.io/"), ReasonOtherHost},
		{"userinfo trick", "https://mail.od.acme.kiwistack.io@evil.com/", ToPrevious, "", prev("https://mail.od.acme.kiwistack.io@evil.com/"), ReasonUserinfo},
		{"userinfo on tenant host", "https://user:pw@mail.od.acme.kiwistack.io/", ToPrevious, "", prev("https://user:pw@mail.od.acme.kiwistack.io/"), ReasonUserinfo},
		{"backslash trick", `https://evil.com\@mail.od.acme.kiwistack.io/`, ToPrevious, "", prev(`https://evil.com\@mail.od.acme.kiwistack.io/`), ReasonAmbiguous},
		{"backslash in path", `https://mail.od.acme.kiwistack.io\evil.com/`, ToPrevious, "", prev(`https://mail.od.acme.kiwistack.io\evil.com/`), ReasonAmbiguous},
		{"percent-encoded host", "https://m%61il.od.acme.kiwistack.io/", ToPrevious, "", prev("https://m%61il.od.acme.kiwistack.io/"), ReasonAmbiguous},
		{"cyrillic look-alike", "https://mаil.od.acme.kiwistack.io/", ToPrevious, "", prev("https://mаil.od.acme.kiwistack.io/"), ReasonIDN},
		{"punycode label", "https://xn--mil-8cd.od.acme.kiwistack.io/", ToPrevious, "", prev("https://xn--mil-8cd.od.acme.kiwistack.io/"), ReasonTenantNoApp},
		{"other port", "https://mail.od.acme.kiwistack.io:8443/", ToPrevious, "", prev("https://mail.od.acme.kiwistack.io:8443/"), ReasonPort},
		{"https on port 80", "https://mail.od.acme.kiwistack.io:80/", ToPrevious, "", prev("https://mail.od.acme.kiwistack.io:80/"), ReasonPort},
		{"unknown app", "https://keycloak.od.acme.kiwistack.io/", ToPrevious, "", prev("https://keycloak.od.acme.kiwistack.io/"), ReasonTenantNoApp},
		{"bare tenant domain", "https://od.acme.kiwistack.io/mail/", ToPrevious, "", prev("https://od.acme.kiwistack.io/mail/"), ReasonTenantNoApp},
		{"nested subdomain", "https://x.mail.od.acme.kiwistack.io/", ToPrevious, "", prev("https://x.mail.od.acme.kiwistack.io/"), ReasonTenantNoApp},
		{"double trailing dot", "https://mail.od.acme.kiwistack.io../", ToPrevious, "", prev("https://mail.od.acme.kiwistack.io../"), ReasonUnparseable},
		{"mailto", "mailto:someone@acme.example", ToPrevious, "", prev("mailto:someone@acme.example"), ReasonScheme},
		{"file", "file:///etc/passwd", ToPrevious, "", prev("file:///etc/passwd"), ReasonScheme},
		{"javascript", "javascript:alert(1)", ToPrevious, "", prev("javascript:alert(1)"), ReasonScheme},
		{"ftp tenant host", "ftp://mail.od.acme.kiwistack.io/", ToPrevious, "", prev("ftp://mail.od.acme.kiwistack.io/"), ReasonScheme},
		{"opaque https", "https:mail.od.acme.kiwistack.io", ToPrevious, "", prev("https:mail.od.acme.kiwistack.io"), ReasonAmbiguous},
		{"ipv6 host", "https://[::1]/", ToPrevious, "", prev("https://[::1]/"), ReasonOtherHost},
		{"unparseable", "https://mail.od.acme.kiwistack.io:xyz/", ToPrevious, "", prev("https://mail.od.acme.kiwistack.io:xyz/"), ReasonUnparseable},
		{"plain other site", "https://example.com/", ToPrevious, "", prev("https://example.com/"), ReasonOtherHost},
		{"option-like", "--incognito", Refused, "", nil, ReasonOptionLike},
		{"empty", "", Refused, "", nil, ReasonEmpty},
		{"newline", "https://mail.od.acme.kiwistack.io/\nx", Refused, "", nil, ReasonControl},
		{"tab in host", "https://mail.od.acme.kiwistack.io\t.evil.com/", Refused, "", nil, ReasonControl},
		{"too long", "https://example.com/" + strings.Repeat("a", MaxURLBytes), Refused, "", nil, ReasonTooLong},
	})
}

func TestPathRouting(t *testing.T) {
	run(t, config(t, catalog.Path), []routeCase{
		{"app root", "https://od.acme.kiwistack.io/mail/", ToLauncher, "mail", app("https://od.acme.kiwistack.io/mail/"), ReasonApp},
		{"route without slash", "https://od.acme.kiwistack.io/files", ToLauncher, "files", app("https://od.acme.kiwistack.io/files"), ReasonApp},
		{"deep link", "https://od.acme.kiwistack.io/projects/work_packages?query_id=3", ToLauncher, "projects",
			app("https://od.acme.kiwistack.io/projects/work_packages?query_id=3"), ReasonApp},
		{"mixed case host", "https://OD.ACME.kiwistack.io/wiki/", ToLauncher, "wiki", app("https://od.acme.kiwistack.io/wiki/"), ReasonApp},
		{"trailing dot", "https://od.acme.kiwistack.io./notes/", ToLauncher, "notes", app("https://od.acme.kiwistack.io/notes/"), ReasonApp},
		{"route is case-sensitive", "https://od.acme.kiwistack.io/Mail/", ToPrevious, "", prev("https://od.acme.kiwistack.io/Mail/"), ReasonTenantNoApp},
		{"route prefix is not the route", "https://od.acme.kiwistack.io/mailbox/", ToPrevious, "", prev("https://od.acme.kiwistack.io/mailbox/"), ReasonTenantNoApp},
		{"dot-dot out of the app", "https://od.acme.kiwistack.io/mail/../admin/", ToPrevious, "", prev("https://od.acme.kiwistack.io/mail/../admin/"), ReasonDotSegment},
		{"encoded dot-dot", "https://od.acme.kiwistack.io/mail/%2E%2e/x", ToPrevious, "", prev("https://od.acme.kiwistack.io/mail/%2E%2e/x"), ReasonDotSegment},
		{"dot segment first", "https://od.acme.kiwistack.io/./mail/", ToPrevious, "", prev("https://od.acme.kiwistack.io/./mail/"), ReasonDotSegment},
		{"encoded slash", "https://od.acme.kiwistack.io/mail%2Fx", ToPrevious, "", prev("https://od.acme.kiwistack.io/mail%2Fx"), ReasonTenantNoApp},
		{"root", "https://od.acme.kiwistack.io/", ToPrevious, "", prev("https://od.acme.kiwistack.io/"), ReasonTenantNoApp},
		{"subdomain shape on a path tenant", "https://mail.od.acme.kiwistack.io/", ToPrevious, "", prev("https://mail.od.acme.kiwistack.io/"), ReasonTenantNoApp},
		{"chat is native", "https://od.acme.kiwistack.io/chat/", ToPrevious, "chat", prev("https://od.acme.kiwistack.io/chat/"), ReasonNativeApp},
		{"look-alike", "https://od.acme.kiwistack.io.evil.com/mail/", ToPrevious, "", prev("https://od.acme.kiwistack.io.evil.com/mail/"), ReasonOtherHost},
		{"userinfo", "https://od.acme.kiwistack.io@evil.com/mail/", ToPrevious, "", prev("https://od.acme.kiwistack.io@evil.com/mail/"), ReasonUserinfo},
	})
}

func TestNoBrowserNoPreviousAndLoops(t *testing.T) {
	cfg := config(t, catalog.Subdomain)
	cfg.Browser = ""
	d := Decide("https://mail.od.acme.kiwistack.io/", cfg)
	if d.Target != ToPrevious || d.Reason != ReasonNoAppBrowser || !reflect.DeepEqual(d.Argv, prev("https://mail.od.acme.kiwistack.io/")) {
		t.Errorf("no chromium: %+v", d)
	}
	cfg = config(t, catalog.Subdomain)
	cfg.Previous = nil
	d = Decide("https://example.com/", cfg)
	if d.Target != ToPrevious || d.Argv != nil || !strings.Contains(d.Explanation, "no previous default browser") {
		t.Errorf("no previous: %+v", d)
	}
	for _, self := range [][]string{{"/usr/bin/kiwistack-agent", "dispatch"}, {"/usr/local/bin/kiwistack-agent"}} {
		cfg = config(t, catalog.Subdomain)
		cfg.Previous = self
		d = Decide("https://example.com/", cfg)
		if d.Target != Refused || d.Reason != ReasonLoop || d.Argv != nil {
			t.Errorf("loop via %q: %+v", self, d)
		}
	}
	// A tenant app never goes through the previous browser, loop or not.
	if d := Decide("https://mail.od.acme.kiwistack.io/", cfg); d.Target != ToLauncher {
		t.Errorf("%+v", d)
	}
}

func TestExplain(t *testing.T) {
	cfg := config(t, catalog.Subdomain)
	var out bytes.Buffer
	if err := Explain(&out, "https://Mail.od.acme.kiwistack.io/x", cfg, false); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"mail launcher's app window", "Mail · Calendar", "[tenant-app]", `"/usr/bin/chromium" "--app=https://mail.od.acme.kiwistack.io/x" "--profile-directory=Work"`} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("human output lacks %q:\n%s", want, out.String())
		}
	}
	out.Reset()
	if err := Explain(&out, "https://mail.od.acme.kiwistack.io@evil.com/", cfg, true); err != nil {
		t.Fatal(err)
	}
	var e dispatchjson.Explain
	dec := json.NewDecoder(&out)
	dec.DisallowUnknownFields()
	if err := dec.Decode(&e); err != nil {
		t.Fatal(err)
	}
	if e.Schema != dispatchjson.SchemaExplain || e.Target != "previous-browser" || e.Reason != ReasonUserinfo || e.Tenant != "acme" || e.Routing != "subdomain" {
		t.Errorf("%+v", e)
	}
}

// FuzzDecide: whatever the URL, the decision is consistent, no launcher
// gets a URL whose host is not the launcher's, and no argv element could
// be read as an option by the browser.
func FuzzDecide(f *testing.F) {
	for _, s := range []string{
		"https://mail.od.acme.kiwistack.io/", "https://mail.od.acme.kiwistack.io@evil.com/", "HTTP://MAIL.OD.ACME.KIWISTACK.IO.:80/a?b#c",
		"https://od.acme.kiwistack.io/mail/../x", `https://evil.com\@mail.od.acme.kiwistack.io/`, "https://m%61il.od.acme.kiwistack.io/",
		"mailto:x@y", "--app=x", "https://[::1]:443/", "https://mаil.od.acme.kiwistack.io/", "https://od.acme.kiwistack.io/files",
	} {
		f.Add(s, false)
		f.Add(s, true)
	}
	subCfg, pathCfg := config(f, catalog.Subdomain), config(f, catalog.Path)
	f.Fuzz(func(t *testing.T, raw string, path bool) {
		cfg := subCfg
		if path {
			cfg = pathCfg
		}
		d := Decide(raw, cfg)
		if d.Reason == "" || d.Explanation == "" {
			t.Fatalf("no reason: %+v", d)
		}
		switch d.Target {
		case Refused:
			if len(d.Argv) != 0 {
				t.Fatalf("refused with argv %q", d.Argv)
			}
		case ToPrevious:
			if len(d.Argv) != 2 || d.Argv[1] != raw || strings.HasPrefix(raw, "-") {
				t.Fatalf("previous browser argv %q for %q", d.Argv, raw)
			}
		case ToLauncher:
			l := cfg.Catalog.Launcher(d.Launcher)
			if l == nil || l.Kind != catalog.Web || len(d.Argv) != 3 || d.Argv[0] != chromiumBin || d.Argv[1] != "--app="+d.URL || d.Argv[2] != "--profile-directory=Work" {
				t.Fatalf("launcher decision %+v", d)
			}
			u, err := url.Parse(d.URL)
			if err != nil || u.Scheme != "https" || u.User != nil || u.Port() != "" {
				t.Fatalf("normalised URL %q: %v", d.URL, err)
			}
			launcherURL, _ := url.Parse(l.URL)
			if u.Host != launcherURL.Host {
				t.Fatalf("%q went to %s (%s)", raw, d.Launcher, u.Host)
			}
			if path && u.EscapedPath() != "/"+l.ID && !strings.HasPrefix(u.EscapedPath(), "/"+l.ID+"/") {
				t.Fatalf("%q went to %s with path %s", raw, d.Launcher, u.EscapedPath())
			}
			if strings.ContainsAny(d.URL, "\\ \t\n\r\x00\"<>`") || strings.IndexFunc(d.URL, func(r rune) bool { return r > 0x7e }) >= 0 {
				t.Fatalf("normalised URL holds unsafe characters: %q", d.URL)
			}
			// Deciding the normalised URL again lands on the same launcher.
			if d2 := Decide(d.URL, cfg); d2.Target != ToLauncher || d2.Launcher != d.Launcher || d2.URL != d.URL {
				t.Fatalf("not idempotent: %q -> %q -> %+v", raw, d.URL, d2)
			}
		default:
			t.Fatalf("unknown target %q", d.Target)
		}
	})
}

// BenchmarkDecide is the pure decision for a tenant URL: the part of the
// dispatcher's start-to-exec time that this package owns.
func BenchmarkDecide(b *testing.B) {
	cfg := config(b, catalog.Subdomain)
	for b.Loop() {
		if d := Decide("https://mail.od.acme.kiwistack.io/appsuite/#!!&app=io.ox/mail", cfg); d.Target != ToLauncher {
			b.Fatal(d)
		}
	}
}

// BenchmarkDecideOther is the decision for a URL that goes to the previous
// browser.
func BenchmarkDecideOther(b *testing.B) {
	cfg := config(b, catalog.Path)
	for b.Loop() {
		if d := Decide("https://example.com/some/page?q=1", cfg); d.Target != ToPrevious {
			b.Fatal(d)
		}
	}
}
