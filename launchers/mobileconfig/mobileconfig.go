// Package mobileconfig renders Apple configuration profiles (.mobileconfig)
// that carry managed preferences: one com.apple.ManagedClient.preferences
// payload per preference domain, its settings forced. That is the form an
// MDM (Fleet, seed D2) pushes to a Mac so that, for example, Google Chrome
// and Chromium read the tenant's policy. Payload UUIDs are derived from the
// payload identifiers (UUID version 5), so the same profile rendered twice is
// byte-identical and pushing it again replaces the installed one instead of
// adding a copy. It renders unsigned XML; signing is the MDM's job. It reads
// and writes no file.
package mobileconfig

import (
	"crypto/sha1"
	"errors"
	"fmt"
	"sort"
	"strings"

	"howett.net/plist"
)

// ErrInvalid is wrapped by every error Render returns.
var ErrInvalid = errors.New("invalid configuration profile")

// Profile is a configuration profile of managed preferences.
type Profile struct {
	// Identifier is the profile's PayloadIdentifier, reverse-DNS
	// ("io.kiwistack.acme.browser-policy"); each payload's identifier is
	// Identifier + "." + its domain.
	Identifier string
	// DisplayName and Description are what System Settings shows.
	DisplayName string
	Description string
	// Organization is PayloadOrganization.
	Organization string
	// Preferences are the payloads, one per preference domain.
	Preferences []Preferences
}

// Preferences are settings forced in one preference domain.
type Preferences struct {
	// Domain is the preference domain ("com.google.Chrome").
	Domain string
	// Settings are the forced keys and their values, each a string, a
	// bool (<true/> or <false/>) or a []string (an <array> of <string>):
	// the types Chromium's managed policy has on macOS.
	Settings map[string]any
}

type payload struct {
	Content     map[string]domainSettings `plist:"PayloadContent"`
	DisplayName string                    `plist:"PayloadDisplayName"`
	Enabled     bool                      `plist:"PayloadEnabled"`
	Identifier  string                    `plist:"PayloadIdentifier"`
	Type        string                    `plist:"PayloadType"`
	UUID        string                    `plist:"PayloadUUID"`
	Version     int                       `plist:"PayloadVersion"`
}

// domainSettings is the MCX form: settings under Forced are enforced at
// every login and cannot be changed by the user.
type domainSettings struct {
	Forced []forced `plist:"Forced"`
}

type forced struct {
	Settings map[string]any `plist:"mcx_preference_settings"`
}

type profile struct {
	Content      []payload `plist:"PayloadContent"`
	Description  string    `plist:"PayloadDescription"`
	DisplayName  string    `plist:"PayloadDisplayName"`
	Identifier   string    `plist:"PayloadIdentifier"`
	Organization string    `plist:"PayloadOrganization"`
	Scope        string    `plist:"PayloadScope"`
	Type         string    `plist:"PayloadType"`
	UUID         string    `plist:"PayloadUUID"`
	Version      int       `plist:"PayloadVersion"`
}

// PreferencesPayloadType is the payload type of managed preferences.
const PreferencesPayloadType = "com.apple.ManagedClient.preferences"

// Render returns the profile as an XML property list. It is a System-scope
// profile (it applies to every user of the Mac). Identifiers and domains
// must be reverse-DNS (A-Z a-z 0-9 '-' '.'); texts must not hold control
// characters; the XML escaping is the plist encoder's.
func (p Profile) Render() ([]byte, error) {
	if !reverseDNS(p.Identifier) {
		return nil, fmt.Errorf("%w: identifier %q: want reverse-DNS", ErrInvalid, p.Identifier)
	}
	for _, s := range []string{p.DisplayName, p.Description, p.Organization} {
		if s == "" || strings.IndexFunc(s, func(r rune) bool { return r < 0x20 || r == 0x7f }) >= 0 {
			return nil, fmt.Errorf("%w: display name, description and organization must be set, without control characters", ErrInvalid)
		}
	}
	if len(p.Preferences) == 0 {
		return nil, fmt.Errorf("%w: no payload", ErrInvalid)
	}
	out := profile{
		Description:  p.Description,
		DisplayName:  p.DisplayName,
		Identifier:   p.Identifier,
		Organization: p.Organization,
		Scope:        "System",
		Type:         "Configuration",
		UUID:         UUID(p.Identifier),
		Version:      1,
	}
	seen := map[string]bool{}
	for _, pref := range p.Preferences {
		if !reverseDNS(pref.Domain) || seen[pref.Domain] {
			return nil, fmt.Errorf("%w: domain %q: want a reverse-DNS domain, once", ErrInvalid, pref.Domain)
		}
		seen[pref.Domain] = true
		keys := make([]string, 0, len(pref.Settings))
		for k := range pref.Settings {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			if k == "" || hasControl(k) {
				return nil, fmt.Errorf("%w: %s: key %q: empty or holding control characters", ErrInvalid, pref.Domain, k)
			}
			if err := validSetting(pref.Settings[k]); err != nil {
				return nil, fmt.Errorf("%w: %s: %s: %v", ErrInvalid, pref.Domain, k, err)
			}
		}
		id := p.Identifier + "." + pref.Domain
		out.Content = append(out.Content, payload{
			Content:     map[string]domainSettings{pref.Domain: {Forced: []forced{{Settings: pref.Settings}}}},
			DisplayName: pref.Domain,
			Enabled:     true,
			Identifier:  id,
			Type:        PreferencesPayloadType,
			UUID:        UUID(id),
			Version:     1,
		})
	}
	b, err := plist.MarshalIndent(out, plist.XMLFormat, "\t")
	if err != nil {
		return nil, fmt.Errorf("encoding the profile: %w", err)
	}
	return append(b, '\n'), nil
}

func hasControl(s string) bool {
	return strings.IndexFunc(s, func(r rune) bool { return r < 0x20 || r == 0x7f }) >= 0
}

// validSetting accepts a string or a []string without control characters,
// and a bool.
func validSetting(v any) error {
	switch v := v.(type) {
	case string:
		if hasControl(v) {
			return errors.New("a control character in the value")
		}
	case bool:
	case []string:
		for i, s := range v {
			if hasControl(s) {
				return fmt.Errorf("a control character in item %d", i+1)
			}
		}
	default:
		return fmt.Errorf("a value of type %T: want a string, a bool or a []string", v)
	}
	return nil
}

func reverseDNS(s string) bool {
	if s == "" || len(s) > 200 || s[0] == '.' || s[len(s)-1] == '.' || strings.Contains(s, "..") || !strings.Contains(s, ".") {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '.') {
			return false
		}
	}
	return true
}

// nameSpaceDNS is RFC 9562's namespace for DNS names
// (6ba7b810-9dad-11d1-80b4-00c04fd430c8).
var nameSpaceDNS = [16]byte{0x6b, 0xa7, 0xb8, 0x10, 0x9d, 0xad, 0x11, 0xd1, 0x80, 0xb4, 0x00, 0xc0, 0x4f, 0xd4, 0x30, 0xc8}

// Namespace is the namespace of KiwiStack's payload UUIDs: the version 5
// UUID of the DNS name "kiwistack.io".
var Namespace = uuid5(nameSpaceDNS, "kiwistack.io")

// UUID returns the payload UUID for a payload identifier: the version 5
// (SHA-1, name-based) UUID of name in Namespace, upper case as Apple's
// tools write them. The same identifier always gives the same UUID.
func UUID(name string) string {
	return format(uuid5(Namespace, name))
}

// uuid5 is RFC 9562 section 5.5: SHA-1 of the namespace's 16 bytes and
// the name, cut to 16 bytes, with the version (5) in the high nibble of
// byte 6 and the variant (binary 10) in the two high bits of byte 8.
func uuid5(ns [16]byte, name string) [16]byte {
	h := sha1.New()
	h.Write(ns[:])
	h.Write([]byte(name))
	var u [16]byte
	copy(u[:], h.Sum(nil))
	u[6] = u[6]&0x0f | 0x50
	u[8] = u[8]&0x3f | 0x80
	return u
}

func format(u [16]byte) string {
	const hex = "0123456789ABCDEF"
	var b []byte
	for i, c := range u {
		if i == 4 || i == 6 || i == 8 || i == 10 {
			b = append(b, '-')
		}
		b = append(b, hex[c>>4], hex[c&15])
	}
	return string(b)
}
