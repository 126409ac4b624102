package catalog

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from the golden file (go test -update rewrites it):\n%s", name, got)
	}
}

// The seed's seven launchers, for both routing shapes, exactly as the API
// would send them: a golden file each, and each one round-trips through the
// strict decoder.
func TestDefaultsGolden(t *testing.T) {
	for _, r := range []Routing{Subdomain, Path} {
		t.Run(string(r), func(t *testing.T) {
			c, err := Defaults("acme", r)
			if err != nil {
				t.Fatal(err)
			}
			b, err := json.MarshalIndent(c, "", "  ")
			if err != nil {
				t.Fatal(err)
			}
			b = append(b, '\n')
			golden(t, "acme-"+string(r)+".json", b)
			back, err := DecodeBytes(b)
			if err != nil {
				t.Fatalf("the default catalog does not decode: %v", err)
			}
			b2, _ := json.MarshalIndent(back, "", "  ")
			if !bytes.Equal(b2, b[:len(b)-1]) {
				t.Errorf("round trip changed the catalog:\n%s", b2)
			}
		})
	}
}

func TestDefaultsContent(t *testing.T) {
	sub, err := Defaults("acme", Subdomain)
	if err != nil {
		t.Fatal(err)
	}
	path, err := Defaults("acme", Path)
	if err != nil {
		t.Fatal(err)
	}
	want := []struct{ id, name, subURL, pathURL string }{
		{"mail", "Mail · Calendar · Contacts · Tasks", "https://mail.od.acme.kiwistack.io/", "https://od.acme.kiwistack.io/mail/"},
		{"files", "Files", "https://files.od.acme.kiwistack.io/", "https://od.acme.kiwistack.io/files/"},
		{"chat", "Chat", "https://chat.od.acme.kiwistack.io", "https://od.acme.kiwistack.io/chat"},
		{"meet", "Meet", "https://meet.od.acme.kiwistack.io/", "https://od.acme.kiwistack.io/meet/"},
		{"projects", "Meshjects", "https://projects.od.acme.kiwistack.io/", "https://od.acme.kiwistack.io/projects/"},
		{"wiki", "Wiki", "https://wiki.od.acme.kiwistack.io/", "https://od.acme.kiwistack.io/wiki/"},
		{"notes", "Notes", "https://notes.od.acme.kiwistack.io/", "https://od.acme.kiwistack.io/notes/"},
	}
	if len(sub.Launchers) != len(want) {
		t.Fatalf("%d launchers, want %d", len(sub.Launchers), len(want))
	}
	for i, w := range want {
		s, p := sub.Launchers[i], path.Launchers[i]
		if s.ID != w.id || s.Name != w.name || s.URL != w.subURL || p.URL != w.pathURL {
			t.Errorf("launcher %d: got %s %q %s | %s", i, s.ID, s.Name, s.URL, p.URL)
		}
	}
	if c := sub.Launcher("chat"); c == nil || c.Kind != Element {
		t.Errorf("chat must be Element Desktop (native, no Chromium launcher): %+v", c)
	}
	if f := sub.Launcher("files"); f == nil || f.Companion != NextcloudSync {
		t.Errorf("files must carry the Nextcloud Sync companion: %+v", f)
	}
	if sub.Domain != "od.acme.kiwistack.io" || sub.KerberosDelegation {
		t.Errorf("domain %q, delegation %v", sub.Domain, sub.KerberosDelegation)
	}
}

func TestDefaultsRejectBadInput(t *testing.T) {
	for _, tc := range []struct {
		slug    string
		routing Routing
		want    string
	}{
		{"", Subdomain, "want 2 to 40"},
		{"a", Subdomain, "want 2 to 40"},
		{"Acme", Subdomain, "lowercase"},
		{"acme.evil", Subdomain, "lowercase"},
		{"acme/../x", Subdomain, "lowercase"},
		{"ac me", Subdomain, "lowercase"},
		{"acme;rm", Subdomain, "lowercase"},
		{"1acme", Subdomain, "start with a letter"},
		{"acme-", Subdomain, "end with"},
		{"xn--acme", Subdomain, `"--"`},
		{"acme", "header", "routing"},
		{strings.Repeat("a", 41), Subdomain, "want 2 to 40"},
	} {
		_, err := Defaults(tc.slug, tc.routing)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Defaults(%q, %q) = %v, want an error containing %q", tc.slug, tc.routing, err, tc.want)
		}
	}
}

// Every way a field could smuggle a metacharacter into a rendered file is
// refused, with a message that names the launcher and the field.
func TestValidateRejects(t *testing.T) {
	for _, tc := range []struct {
		name   string
		mutate func(c *Catalog)
		want   string
	}{
		{"version", func(c *Catalog) { c.Version = 2 }, "version: got 2"},
		{"tenant", func(c *Catalog) { c.Tenant = "ACME" }, "tenant:"},
		{"routing", func(c *Catalog) { c.Routing = "query" }, "routing:"},
		{"domain other tenant", func(c *Catalog) { c.Domain = "od.other.kiwistack.io" }, "domain:"},
		{"domain single label suffix", func(c *Catalog) { c.Domain = "od.acme.io" }, "suffix of at least two labels"},
		{"domain ip", func(c *Catalog) { c.Domain = "od.acme.10.0.0.1" }, "IP addresses"},
		{"domain trailing dot", func(c *Catalog) { c.Domain = "od.acme.kiwistack.io." }, "empty label"},
		{"domain idn", func(c *Catalog) { c.Domain = "od.acme.xn--kiwi-9qa.io" }, "xn--"},
		{"no launchers", func(c *Catalog) { c.Launchers = nil }, "want 1 to 32 launchers"},
		{"id upper", func(c *Catalog) { c.Launchers[0].ID = "Mail" }, "launchers[0]: id:"},
		{"id path", func(c *Catalog) { c.Launchers[0].ID = "../mail" }, "launchers[0]: id:"},
		{"id duplicate", func(c *Catalog) { c.Launchers[1].ID = "mail" }, "duplicate id"},
		{"name duplicate", func(c *Catalog) { c.Launchers[1].Name = c.Launchers[0].Name }, "duplicate name"},
		{"name newline", func(c *Catalog) { c.Launchers[0].Name = "Mail\nExec=evil" }, "launchers[0] (mail): name:"},
		{"name xml", func(c *Catalog) { c.Launchers[0].Name = "Mail <b>" }, "not allowed"},
		{"name amp", func(c *Catalog) { c.Launchers[0].Name = "Mail & Co" }, "not allowed"},
		{"name quote", func(c *Catalog) { c.Launchers[0].Name = `Mail "x"` }, "not allowed"},
		{"name shell", func(c *Catalog) { c.Launchers[0].Name = "Mail $(id)" }, "not allowed"},
		{"name backtick", func(c *Catalog) { c.Launchers[0].Name = "Mail `id`" }, "not allowed"},
		{"name semicolon", func(c *Catalog) { c.Launchers[0].Name = "Mail;x" }, "not allowed"},
		{"name percent", func(c *Catalog) { c.Launchers[0].Name = "Mail %u" }, "not allowed"},
		{"name equals", func(c *Catalog) { c.Launchers[0].Name = "a=b" }, "not allowed"},
		{"name bracket", func(c *Catalog) { c.Launchers[0].Name = "[Desktop Entry]" }, "not allowed"},
		{"name backslash", func(c *Catalog) { c.Launchers[0].Name = `Mail\n` }, "not allowed"},
		{"name leading space", func(c *Catalog) { c.Launchers[0].Name = " Mail" }, "spaces"},
		{"name bidi override", func(c *Catalog) { c.Launchers[0].Name = "Mail\u202e" }, "not allowed"},
		{"name too long", func(c *Catalog) { c.Launchers[0].Name = strings.Repeat("M", 65) }, "want 1 to 64"},
		{"name empty", func(c *Catalog) { c.Launchers[0].Name = "" }, "want 1 to 64"},
		{"comment", func(c *Catalog) { c.Launchers[0].Comment = "OX <App>" }, "comment:"},
		{"kind", func(c *Catalog) { c.Launchers[0].Kind = "electron" }, "kind:"},
		{"two elements", func(c *Catalog) { c.Launchers[0].Kind = Element }, "only one launcher can be Element"},
		{"url http", func(c *Catalog) { c.Launchers[0].URL = "http://mail.od.acme.kiwistack.io/" }, "https"},
		{"url other host", func(c *Catalog) { c.Launchers[0].URL = "https://evil.com/" }, "with subdomain routing want"},
		{"url look-alike", func(c *Catalog) { c.Launchers[0].URL = "https://mail.od.acme.kiwistack.io.evil.com/" }, "with subdomain routing want"},
		{"url other app", func(c *Catalog) { c.Launchers[0].URL = "https://files.od.acme.kiwistack.io/" }, "with subdomain routing want"},
		{"url userinfo", func(c *Catalog) { c.Launchers[0].URL = "https://mail.od.acme.kiwistack.io@evil.com/" }, "user info"},
		{"url port", func(c *Catalog) { c.Launchers[0].URL = "https://mail.od.acme.kiwistack.io:8443/" }, "port"},
		{"url query", func(c *Catalog) { c.Launchers[0].URL = "https://mail.od.acme.kiwistack.io/?a=b" }, "query"},
		{"url fragment", func(c *Catalog) { c.Launchers[0].URL = "https://mail.od.acme.kiwistack.io/#x" }, "fragment"},
		{"url space", func(c *Catalog) { c.Launchers[0].URL = "https://mail.od.acme.kiwistack.io/a b" }, "not allowed"},
		{"url quote", func(c *Catalog) { c.Launchers[0].URL = `https://mail.od.acme.kiwistack.io/"` }, "not allowed"},
		{"url percent", func(c *Catalog) { c.Launchers[0].URL = "https://mail.od.acme.kiwistack.io/%2e%2e/" }, "not allowed"},
		{"url dotdot", func(c *Catalog) { c.Launchers[0].URL = "https://mail.od.acme.kiwistack.io/a/../b" }, "dot segment"},
		{"url double slash", func(c *Catalog) { c.Launchers[0].URL = "https://mail.od.acme.kiwistack.io//x" }, "empty segment"},
		{"url upper host", func(c *Catalog) { c.Launchers[0].URL = "https://MAIL.od.acme.kiwistack.io/" }, "lowercase"},
		{"url newline", func(c *Catalog) { c.Launchers[0].URL = "https://mail.od.acme.kiwistack.io/\nx" }, "not allowed"},
		{"url non-ascii", func(c *Catalog) { c.Launchers[0].URL = "https://maіl.od.acme.kiwistack.io/" }, "not allowed"},
		{"url too long", func(c *Catalog) { c.Launchers[0].URL = "https://mail.od.acme.kiwistack.io/" + strings.Repeat("a", 250) }, "longer than"},
		{"color", func(c *Catalog) { c.Launchers[0].Icon.Color = "red" }, "icon.color"},
		{"color upper", func(c *Catalog) { c.Launchers[0].Icon.Color = "#AABBCC" }, "icon.color"},
		{"glyph", func(c *Catalog) { c.Launchers[0].Icon.Glyph = "logo" }, "icon.glyph"},
		{"category", func(c *Catalog) { c.Launchers[0].Categories = []string{"Office;Evil"} }, "categories"},
		{"category duplicate", func(c *Catalog) { c.Launchers[0].Categories = []string{"Office", "Office"} }, "duplicate"},
		{"companion", func(c *Catalog) { c.Launchers[0].Companion = "dropbox" }, "companion"},
		{"companion on element", func(c *Catalog) { c.Launchers[2].Companion = NextcloudSync }, "only a web launcher"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := Defaults("acme", Subdomain)
			if err != nil {
				t.Fatal(err)
			}
			tc.mutate(c)
			err = c.Validate()
			if err == nil {
				t.Fatalf("accepted")
			}
			if !errors.Is(err, ErrInvalid) {
				t.Errorf("%v does not wrap ErrInvalid", err)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %q does not contain %q", err, tc.want)
			}
		})
	}
}

func TestValidatePathRouting(t *testing.T) {
	c, err := Defaults("acme", Path)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		url string
		ok  bool
	}{
		{"https://od.acme.kiwistack.io/mail/", true},
		{"https://od.acme.kiwistack.io/mail", true},
		{"https://od.acme.kiwistack.io/mail/appsuite/", true},
		{"https://od.acme.kiwistack.io/mailbox/", false},
		{"https://od.acme.kiwistack.io/", false},
		{"https://mail.od.acme.kiwistack.io/", false},
		{"https://od.acme.kiwistack.io/files/", false},
	} {
		c.Launchers[0].URL = tc.url
		if err := c.Validate(); (err == nil) != tc.ok {
			t.Errorf("%s: err=%v, want ok=%v", tc.url, err, tc.ok)
		}
	}
}

func TestDecodeRejects(t *testing.T) {
	c, err := Defaults("acme", Subdomain)
	if err != nil {
		t.Fatal(err)
	}
	good, _ := json.Marshal(c)
	if _, err := DecodeBytes(good); err != nil {
		t.Fatalf("good catalog refused: %v", err)
	}
	s := string(good)
	for _, tc := range []struct {
		name, in, want string
	}{
		{"unknown top-level field", strings.Replace(s, `"version":1`, `"version":1,"exec":"sh"`, 1), "unknown field"},
		{"unknown launcher field", strings.Replace(s, `"id":"mail"`, `"id":"mail","exec":"sh"`, 1), "unknown field"},
		{"duplicate top-level key", strings.Replace(s, `"version":1`, `"version":1,"version":1`, 1), "duplicate key"},
		{"duplicate key in launcher", strings.Replace(s, `"id":"mail"`, `"id":"mail","id":"mail"`, 1), "duplicate key"},
		{"duplicate key in icon", strings.Replace(s, `"glyph":"envelope"`, `"glyph":"envelope","glyph":"page"`, 1), "duplicate key"},
		{"duplicate launcher", strings.Replace(s, `"launchers":[`, `"launchers":[`+launcherJSON(t, c.Launchers[0])+`,`, 1), "duplicate id"},
		{"trailing data", s + `{}`, "data after"},
		{"not json", "version: 1", "invalid character"},
		{"empty", "", "EOF"},
		{"array", "[]", "cannot unmarshal"},
		{"wrong type", strings.Replace(s, `"version":1`, `"version":"1"`, 1), "cannot unmarshal"},
		{"deep nesting", strings.Repeat("[", 20) + strings.Repeat("]", 20), "nested deeper"},
		{"invalid content", strings.Replace(s, `"acme"`, `"ACME"`, 1), "tenant:"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := DecodeBytes([]byte(tc.in))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("got %v, want an error containing %q", err, tc.want)
			}
		})
	}
}

func launcherJSON(t *testing.T, l Launcher) string {
	b, err := json.Marshal(l)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestDecodeOversize(t *testing.T) {
	big := bytes.Repeat([]byte(" "), MaxBytes+1)
	if _, err := Decode(bytes.NewReader(big)); !errors.Is(err, ErrTooLarge) {
		t.Errorf("Decode of %d bytes: %v, want ErrTooLarge", len(big), err)
	}
	if _, err := DecodeBytes(big); !errors.Is(err, ErrTooLarge) {
		t.Errorf("DecodeBytes of %d bytes: %v, want ErrTooLarge", len(big), err)
	}
	c, _ := Defaults("acme", Subdomain)
	good, _ := json.Marshal(c)
	padded := append(good, bytes.Repeat([]byte("\n"), MaxBytes-len(good))...)
	if _, err := Decode(bytes.NewReader(padded)); err != nil {
		t.Errorf("a catalog of exactly MaxBytes is refused: %v", err)
	}
}

func TestErrorsDoNotEchoHostileInput(t *testing.T) {
	c, _ := Defaults("acme", Subdomain)
	c.Launchers[0].Name = strings.Repeat("\x1b[31m", 1000)
	err := c.Validate()
	if err == nil || len(err.Error()) > 300 || strings.Contains(err.Error(), "\x1b") {
		t.Errorf("error echoes hostile input: %q", err)
	}
}

// FuzzDecode feeds arbitrary bytes to the decoder: it must never panic, and
// whatever it accepts must validate, re-encode and decode to the same
// catalog, and hold no byte that could break out of a rendered file.
func FuzzDecode(f *testing.F) {
	for _, r := range []Routing{Subdomain, Path} {
		c, _ := Defaults("acme", r)
		b, _ := json.Marshal(c)
		f.Add(b)
	}
	f.Add([]byte(`{"version":1,"tenant":"acme","routing":"path","domain":"od.acme.kiwistack.io","launchers":[{"id":"x","name":"X","comment":"Y","kind":"web","url":"https://od.acme.kiwistack.io/x/","icon":{"color":"#000000","glyph":"page"}}]}`))
	f.Add([]byte(`{"version":1,"version":1}`))
	f.Add([]byte(`[[[[[[[[[[]]]]]]]]]]`))
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := DecodeBytes(data)
		if err != nil {
			return
		}
		if err := c.Validate(); err != nil {
			t.Fatalf("decoded catalog does not validate: %v", err)
		}
		b, err := json.Marshal(c)
		if err != nil {
			t.Fatal(err)
		}
		c2, err := DecodeBytes(b)
		if err != nil {
			t.Fatalf("re-encoded catalog refused: %v\n%s", err, b)
		}
		b2, _ := json.Marshal(c2)
		if !bytes.Equal(b, b2) {
			t.Fatalf("not stable:\n%s\n%s", b, b2)
		}
		for _, l := range c.Launchers {
			for _, s := range []string{l.ID, l.Name, l.Comment, l.URL, l.Icon.Color, l.Icon.Glyph, strings.Join(l.Categories, "")} {
				if strings.ContainsAny(s, "\"'`$;&<>\\\n\r\t%=[]{}|") {
					t.Fatalf("metacharacter passed validation: %q", s)
				}
			}
		}
	})
}
