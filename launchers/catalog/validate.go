package catalog

import (
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// ErrInvalid is wrapped by every validation error, for callers that only
// need to know that the catalog was refused.
var ErrInvalid = errors.New("invalid catalog")

// FieldError says which field of which launcher is wrong and why.
type FieldError struct {
	// Launcher is the launcher's index and id ("launchers[2] (chat)"), or
	// empty for a catalog-level field.
	Launcher string
	// Field is the JSON name of the field.
	Field string
	// Reason says what is wrong, in words an admin can act on.
	Reason string
}

func (e *FieldError) Error() string {
	if e.Launcher == "" {
		return fmt.Sprintf("%s: %s", e.Field, e.Reason)
	}
	return fmt.Sprintf("%s: %s: %s", e.Launcher, e.Field, e.Reason)
}

// Is makes errors.Is(err, ErrInvalid) true for every FieldError.
func (e *FieldError) Is(target error) bool { return target == ErrInvalid }

// Limits that keep rendered files and the decoder's work small.
const (
	MaxLaunchers  = 32
	MaxNameRunes  = 64
	MaxURLBytes   = 256
	maxSlugBytes  = 40
	maxIDBytes    = 32
	maxCategories = 8
)

// ValidSlug checks a tenant slug: 2 to 40 of a-z, 0-9 and '-', starting with
// a letter, not ending with '-', no "--" (which would also allow IDNA "xn--"
// look-alikes). A slug becomes a DNS label, so nothing else can pass.
func ValidSlug(s string) error {
	if err := validLabel(s, 2, maxSlugBytes); err != nil {
		return fmt.Errorf("tenant slug %s: %w", q(s), err)
	}
	return nil
}

// ValidID checks a launcher id with the same rules as a slug (1 to 32
// bytes): it becomes a DNS label, a path segment and part of file names.
func ValidID(s string) error {
	if err := validLabel(s, 1, maxIDBytes); err != nil {
		return fmt.Errorf("launcher id %s: %w", q(s), err)
	}
	return nil
}

func validLabel(s string, minLen, maxLen int) error {
	if len(s) < minLen || len(s) > maxLen {
		return fmt.Errorf("want %d to %d characters", minLen, maxLen)
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-') {
			return errors.New("only lowercase letters a-z, digits and '-' are allowed")
		}
	}
	if s[0] < 'a' || s[0] > 'z' {
		return errors.New("must start with a letter a-z")
	}
	if s[len(s)-1] == '-' {
		return errors.New("must not end with '-'")
	}
	if strings.Contains(s, "--") {
		return errors.New("must not contain \"--\"")
	}
	return nil
}

// ValidHostname checks a lowercase DNS host name: at least two labels of
// a-z, 0-9 and '-' (1 to 63 bytes each, no '-' at either end), at most 253
// bytes, no trailing dot, no IP address, no IDNA ("xn--") label. Host names
// reach desktop entries, policies and plists, so the alphabet is closed.
func ValidHostname(h string) error {
	if len(h) == 0 || len(h) > 253 {
		return fmt.Errorf("host name %s: want 1 to 253 characters", q(h))
	}
	labels := strings.Split(h, ".")
	if len(labels) < 2 {
		return fmt.Errorf("host name %s: want at least two labels", q(h))
	}
	for _, l := range labels {
		if len(l) == 0 || len(l) > 63 {
			return fmt.Errorf("host name %s: empty label or label longer than 63 characters", q(h))
		}
		for i := 0; i < len(l); i++ {
			c := l[i]
			if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-') {
				return fmt.Errorf("host name %s: only lowercase a-z, digits, '-' and '.' are allowed", q(h))
			}
		}
		if l[0] == '-' || l[len(l)-1] == '-' {
			return fmt.Errorf("host name %s: a label must not start or end with '-'", q(h))
		}
		if strings.HasPrefix(l, "xn--") {
			return fmt.Errorf("host name %s: internationalized (xn--) labels are not allowed", q(h))
		}
	}
	last := labels[len(labels)-1]
	if last[0] >= '0' && last[0] <= '9' {
		return fmt.Errorf("host name %s: the last label must not start with a digit (IP addresses are not allowed)", q(h))
	}
	return nil
}

// validName checks a display name or comment: 1 to 64 runes of letters,
// marks, digits, spaces and the punctuation · - . , ( ) +, no leading,
// trailing or double space. Quotes, '&', '<', '>', ';', '$', '`', '\\',
// '%', '=', '[' and ']' never pass, so a name is safe in desktop entries,
// XML, plists, .reg files and shell words alike.
func validName(s string) error {
	n := utf8.RuneCountInString(s)
	if n == 0 || n > MaxNameRunes {
		return fmt.Errorf("want 1 to %d characters", MaxNameRunes)
	}
	if !utf8.ValidString(s) {
		return errors.New("not valid UTF-8")
	}
	if strings.TrimSpace(s) != s || strings.Contains(s, "  ") {
		return errors.New("no leading, trailing or double spaces")
	}
	for _, r := range s {
		switch {
		case unicode.IsLetter(r), unicode.IsMark(r), unicode.IsDigit(r), r == ' ':
		case strings.ContainsRune("·-.,()+", r):
		default:
			return fmt.Errorf("character %q is not allowed (letters, digits, spaces and · - . , ( ) + only)", r)
		}
	}
	return nil
}

func validColor(s string) error {
	if len(s) != 7 || s[0] != '#' {
		return errors.New(`want "#rrggbb"`)
	}
	for i := 1; i < 7; i++ {
		c := s[i]
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return errors.New(`want "#rrggbb" with lowercase hex digits`)
		}
	}
	return nil
}

func validCategory(s string) error {
	if len(s) == 0 || len(s) > 32 {
		return errors.New("want 1 to 32 characters")
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-') {
			return errors.New("only letters, digits and '-' are allowed")
		}
	}
	if s[0] < 'A' || s[0] > 'Z' {
		return errors.New("must start with an uppercase letter")
	}
	return nil
}

// validPath checks a URL path: empty, or '/'-separated segments of
// A-Z a-z 0-9 . _ ~ -, no empty segment except one trailing '/', no "." or
// ".." segment, no percent-encoding.
func validPath(p string) error {
	if p == "" {
		return nil
	}
	if p[0] != '/' {
		return errors.New("path must start with '/'")
	}
	segs := strings.Split(p[1:], "/")
	for i, s := range segs {
		if s == "" {
			if i == len(segs)-1 {
				continue
			}
			return errors.New("path has an empty segment")
		}
		if s == "." || s == ".." {
			return errors.New("path has a dot segment")
		}
		for j := 0; j < len(s); j++ {
			c := s[j]
			if !(c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || strings.IndexByte("._~-", c) >= 0) {
				return fmt.Errorf("path character %q is not allowed", c)
			}
		}
	}
	return nil
}

// validAppURL checks that raw is an https URL of the app with route id in
// routing shape r under domain: no user info, port, query or fragment, a
// canonical spelling, and the host and path the shape prescribes.
func validAppURL(raw, domain string, r Routing, id string) error {
	if len(raw) > MaxURLBytes {
		return fmt.Errorf("longer than %d bytes", MaxURLBytes)
	}
	for i := 0; i < len(raw); i++ {
		if raw[i] <= ' ' || raw[i] >= 0x7f || strings.IndexByte(`"'<>\^`+"`{|}%", raw[i]) >= 0 {
			return fmt.Errorf("character %q is not allowed in a launcher URL", raw[i])
		}
	}
	u, err := url.Parse(raw)
	if err != nil {
		return fmt.Errorf("not a URL: %w", err)
	}
	switch {
	case u.Scheme != "https":
		return errors.New("must be an https URL")
	case u.Opaque != "" || u.User != nil:
		return errors.New("must not carry user info")
	case u.Port() != "":
		return errors.New("must not carry a port")
	case u.RawQuery != "" || u.ForceQuery || u.Fragment != "" || strings.ContainsAny(raw, "?#"):
		return errors.New("must not carry a query or fragment")
	case u.String() != raw:
		return fmt.Errorf("not in canonical form (want %q)", u.String())
	}
	if err := ValidHostname(u.Host); err != nil {
		return err
	}
	if err := validPath(u.Path); err != nil {
		return err
	}
	switch r {
	case Subdomain:
		if u.Host != id+"."+domain {
			return fmt.Errorf("host %s: with subdomain routing want %q", q(u.Host), id+"."+domain)
		}
	case Path:
		if u.Host != domain {
			return fmt.Errorf("host %s: with path routing want %q", q(u.Host), domain)
		}
		if u.Path != "/"+id && !strings.HasPrefix(u.Path, "/"+id+"/") {
			return fmt.Errorf("path %s: with path routing want /%s or a path below /%s/", q(u.Path), id, id)
		}
	}
	return nil
}

// Validate checks the whole catalog and returns the first problem as a
// *FieldError (errors.Is(err, ErrInvalid) holds). A catalog that passes has
// nothing in it that could break out of any rendered file.
func (c *Catalog) Validate() error {
	top := func(field, format string, a ...any) error {
		return &FieldError{Field: field, Reason: fmt.Sprintf(format, a...)}
	}
	if c.Version != SchemaVersion {
		return top("version", "got %d, this agent understands version %d", c.Version, SchemaVersion)
	}
	if err := ValidSlug(c.Tenant); err != nil {
		return top("tenant", "%v", err)
	}
	if _, err := ParseRouting(string(c.Routing)); err != nil {
		return top("routing", "%v", err)
	}
	if err := ValidHostname(c.Domain); err != nil {
		return top("domain", "%v", err)
	}
	if prefix := "od." + c.Tenant + "."; !strings.HasPrefix(c.Domain, prefix) || strings.Count(c.Domain[len(prefix):], ".") < 1 {
		return top("domain", "%s: want od.%s.<suffix> with a suffix of at least two labels", q(c.Domain), c.Tenant)
	}
	if len(c.Launchers) == 0 || len(c.Launchers) > MaxLaunchers {
		return top("launchers", "want 1 to %d launchers, got %d", MaxLaunchers, len(c.Launchers))
	}
	seen := map[string]bool{}
	names := map[string]bool{}
	elements := 0
	for i := range c.Launchers {
		l := &c.Launchers[i]
		where := fmt.Sprintf("launchers[%d]", i)
		bad := func(field, format string, a ...any) error {
			return &FieldError{Launcher: where, Field: field, Reason: fmt.Sprintf(format, a...)}
		}
		if err := ValidID(l.ID); err != nil {
			return bad("id", "%v", err)
		}
		where = fmt.Sprintf("launchers[%d] (%s)", i, l.ID)
		if seen[l.ID] {
			return bad("id", "duplicate id %q", l.ID)
		}
		seen[l.ID] = true
		if err := validName(l.Name); err != nil {
			return bad("name", "%s: %v", q(l.Name), err)
		}
		if names[l.Name] {
			return bad("name", "duplicate name %s", q(l.Name))
		}
		names[l.Name] = true
		if err := validName(l.Comment); err != nil {
			return bad("comment", "%s: %v", q(l.Comment), err)
		}
		switch l.Kind {
		case Web:
		case Element:
			elements++
			if elements > 1 {
				return bad("kind", "only one launcher can be Element Desktop")
			}
		default:
			return bad("kind", "%s: want %q or %q", q(string(l.Kind)), Web, Element)
		}
		if err := validAppURL(l.URL, c.Domain, c.Routing, l.ID); err != nil {
			return bad("url", "%s: %v", q(l.URL), err)
		}
		if err := validColor(l.Icon.Color); err != nil {
			return bad("icon.color", "%s: %v", q(l.Icon.Color), err)
		}
		if !knownGlyph(l.Icon.Glyph) {
			return bad("icon.glyph", "%s: want one of %s", q(l.Icon.Glyph), strings.Join(Glyphs, ", "))
		}
		if len(l.Categories) > maxCategories {
			return bad("categories", "at most %d", maxCategories)
		}
		cats := map[string]bool{}
		for _, cat := range l.Categories {
			if err := validCategory(cat); err != nil {
				return bad("categories", "%s: %v", q(cat), err)
			}
			if cats[cat] {
				return bad("categories", "duplicate %s", q(cat))
			}
			cats[cat] = true
		}
		switch l.Companion {
		case "":
		case NextcloudSync:
			if l.Kind != Web {
				return bad("companion", "only a web launcher can have a companion")
			}
		default:
			return bad("companion", "%s: want %q or nothing", q(string(l.Companion)), NextcloudSync)
		}
	}
	return nil
}

func knownGlyph(g string) bool {
	for _, k := range Glyphs {
		if g == k {
			return true
		}
	}
	return false
}

// q quotes s for an error message, cut to 60 bytes so that hostile input
// cannot flood a log.
func q(s string) string {
	if len(s) > 60 {
		return strconv.Quote(s[:60]) + "…"
	}
	return strconv.Quote(s)
}
