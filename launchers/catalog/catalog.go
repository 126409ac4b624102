// Package catalog owns the tenant's app catalog as data (seed "Desktop
// apps", C1): which launchers exist, where each one points, how it is drawn
// and which native client it stands for. The catalog is what the API sends
// and what the agent applies, so it is JSON-serialisable, validated strictly
// (Validate) and decoded defensively (Decode). It renders nothing and touches
// no file: every renderer takes a Catalog that has passed Validate, and the
// validation is what keeps path, shell, XML, plist and desktop-entry
// metacharacters out of every rendered file.
package catalog

import (
	"fmt"
	"net/url"
	"strings"
)

// SchemaVersion is the version of the catalog's JSON shape. A catalog with
// another version is refused: fields are only added within a version.
const SchemaVersion = 1

// DefaultSuffix is the product's DNS suffix: tenant apps live under
// od.<slug>.kiwistack.io.
const DefaultSuffix = "kiwistack.io"

// Routing is how a tenant's apps are addressed.
type Routing string

const (
	// Subdomain routing: https://mail.od.<slug>.kiwistack.io/.
	Subdomain Routing = "subdomain"
	// Path routing: https://od.<slug>.kiwistack.io/mail/.
	Path Routing = "path"
)

// ParseRouting turns a flag or JSON value into a Routing.
func ParseRouting(s string) (Routing, error) {
	switch Routing(s) {
	case Subdomain, Path:
		return Routing(s), nil
	}
	return "", fmt.Errorf("routing %q: want %q or %q", s, Subdomain, Path)
}

// Kind says how a launcher opens.
type Kind string

const (
	// Web launchers open a Chromium app-mode window in the shared Work profile.
	Web Kind = "web"
	// Element launchers start the native Element Desktop client (seed C4);
	// their URL is the Matrix homeserver's base URL.
	Element Kind = "element"
)

// Companion is a native client installed beside a web launcher.
type Companion string

// NextcloudSync is the Nextcloud desktop client beside the Files launcher
// (seed C4): it is configured with the launcher's URL as its server.
const NextcloudSync Companion = "nextcloud-sync"

// Catalog is a tenant's set of launchers.
type Catalog struct {
	// Version is SchemaVersion.
	Version int `json:"version"`
	// Tenant is the tenant slug ("acme").
	Tenant string `json:"tenant"`
	// Routing is the tenant's routing shape.
	Routing Routing `json:"routing"`
	// Domain is the host all the tenant's apps live under:
	// od.<tenant>.<suffix>, e.g. od.acme.kiwistack.io.
	Domain string `json:"domain"`
	// KerberosDelegation also lets Chromium delegate the user's Kerberos
	// ticket to the tenant's hosts (AuthNegotiateDelegateAllowlist). Off by
	// default: the seed's SPNEGO flow (C3) needs authentication, not
	// delegation, and a delegated ticket lets the server act as the user.
	KerberosDelegation bool `json:"kerberos_delegation,omitempty"`
	// Launchers are the tenant's apps, in dock order.
	Launchers []Launcher `json:"launchers"`
}

// Launcher is one icon in the dock.
type Launcher struct {
	// ID names the launcher in file names and is the app's route: the
	// subdomain label or the first path segment ("mail", "files", …).
	ID string `json:"id"`
	// Name is what the user reads under the icon.
	Name string `json:"name"`
	// Comment says what the launcher wraps ("OX App Suite").
	Comment string `json:"comment"`
	// Kind says how it opens.
	Kind Kind `json:"kind"`
	// URL is the https URL the app window opens (Web) or the homeserver's
	// base URL (Element). It lies under the app's route in the tenant's
	// routing shape.
	URL string `json:"url"`
	// Icon is how the project draws the launcher's icon.
	Icon Icon `json:"icon"`
	// Categories are freedesktop.org menu categories for Linux.
	Categories []string `json:"categories,omitempty"`
	// Companion is a native client installed beside a web launcher.
	Companion Companion `json:"companion,omitempty"`
}

// Icon is an icon drawn by the project: a rounded square in Color with a
// white Glyph.
type Icon struct {
	// Color is "#rrggbb".
	Color string `json:"color"`
	// Glyph is one of Glyphs.
	Glyph string `json:"glyph"`
}

// Glyphs are the glyphs the icon renderer can draw.
var Glyphs = []string{"envelope", "folder", "bubble", "camera", "board", "book", "page"}

// Domain returns the host a tenant's apps live under: od.<slug>.<suffix>.
func Domain(slug, suffix string) string { return "od." + slug + "." + suffix }

// AppURL returns the canonical URL of the app with route id in the given
// routing shape under domain: https://id.domain/ or https://domain/id/.
func AppURL(domain string, r Routing, id string) string {
	if r == Path {
		return "https://" + domain + "/" + id + "/"
	}
	return "https://" + id + "." + domain + "/"
}

// Defaults returns the seed's seven launchers (C1) for tenant slug in the
// given routing shape under od.<slug>.kiwistack.io. It validates slug and
// routing and returns an error naming what is wrong.
func Defaults(slug string, r Routing) (*Catalog, error) {
	return DefaultsUnder(slug, r, DefaultSuffix)
}

// DefaultsUnder is Defaults under another DNS suffix (staging, tests).
func DefaultsUnder(slug string, r Routing, suffix string) (*Catalog, error) {
	if err := ValidSlug(slug); err != nil {
		return nil, &FieldError{Field: "tenant", Reason: err.Error()}
	}
	if _, err := ParseRouting(string(r)); err != nil {
		return nil, &FieldError{Field: "routing", Reason: err.Error()}
	}
	if err := ValidHostname(suffix); err != nil {
		return nil, &FieldError{Field: "suffix", Reason: err.Error()}
	}
	d := Domain(slug, suffix)
	web := func(id, name, comment, color, glyph string, cats ...string) Launcher {
		return Launcher{ID: id, Name: name, Comment: comment, Kind: Web, URL: AppURL(d, r, id),
			Icon: Icon{Color: color, Glyph: glyph}, Categories: cats}
	}
	files := web("files", "Files", "Nextcloud", "#0e7490", "folder", "Network", "FileTransfer")
	files.Companion = NextcloudSync
	chat := Launcher{ID: "chat", Name: "Chat", Comment: "Element", Kind: Element, URL: strings.TrimSuffix(AppURL(d, r, "chat"), "/"),
		Icon: Icon{Color: "#6d28d9", Glyph: "bubble"}, Categories: []string{"Network", "InstantMessaging", "Chat"}}
	c := &Catalog{
		Version: SchemaVersion,
		Tenant:  slug,
		Routing: r,
		Domain:  d,
		Launchers: []Launcher{
			web("mail", "Mail · Calendar · Contacts · Tasks", "OX App Suite", "#1d4ed8", "envelope", "Office", "Email", "Calendar", "ContactManagement"),
			files,
			chat,
			web("meet", "Meet", "Jitsi", "#15803d", "camera", "Network", "VideoConference"),
			web("projects", "Meshjects", "OpenProject", "#c2410c", "board", "Office", "ProjectManagement"),
			web("wiki", "Wiki", "XWiki", "#475569", "book", "Office"),
			web("notes", "Notes", "CryptPad", "#a16207", "page", "Office"),
		},
	}
	if err := c.Validate(); err != nil {
		return nil, fmt.Errorf("default catalog for %q: %w", slug, err)
	}
	return c, nil
}

// Web returns the launchers that open in a Chromium app window, in catalog
// order, and their icons in the same order (for drawing them in one batch).
func (c *Catalog) Web() ([]*Launcher, []Icon) {
	var web []*Launcher
	var icons []Icon
	for i := range c.Launchers {
		if l := &c.Launchers[i]; l.Kind == Web {
			web = append(web, l)
			icons = append(icons, l.Icon)
		}
	}
	return web, icons
}

// Launcher returns the launcher with the given id, or nil.
func (c *Catalog) Launcher(id string) *Launcher {
	for i := range c.Launchers {
		if c.Launchers[i].ID == id {
			return &c.Launchers[i]
		}
	}
	return nil
}

// Host returns the host of the launcher's URL. It is valid only on a
// validated catalog.
func (l *Launcher) Host() string {
	u, err := url.Parse(l.URL)
	if err != nil {
		return ""
	}
	return u.Host
}
