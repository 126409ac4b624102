package mobileconfig

import (
	"bytes"
	"errors"
	"reflect"
	"regexp"
	"testing"

	"github.com/kiwistack/endpoint/launchers/internal/realtool"
	"howett.net/plist"
)

// RFC 9562, appendix A.4: the version 5 UUID of "www.example.com" in the
// DNS namespace.
func TestUUID5Vector(t *testing.T) {
	if got := format(uuid5(nameSpaceDNS, "www.example.com")); got != "2ED6657D-E927-568B-95E1-2665A8AEA6A2" {
		t.Errorf("uuid5 = %s", got)
	}
	if got := format(Namespace); !regexp.MustCompile(`^[0-9A-F]{8}-[0-9A-F]{4}-5[0-9A-F]{3}-[89AB][0-9A-F]{3}-[0-9A-F]{12}$`).MatchString(got) {
		t.Errorf("namespace %s is not a version 5 UUID", got)
	}
}

// testSettings has one setting of each type Chromium's policy takes on
// macOS: a string, a boolean, a list of strings.
func testSettings(tenant string) map[string]any {
	return map[string]any{
		"AuthServerAllowlist":             "*.od." + tenant + ".kiwistack.io",
		"DisableAuthNegotiateCnameLookup": true,
		"AutoSelectCertificateForUrls":    []string{`{"pattern":"https://[*.]od.` + tenant + `.kiwistack.io","filter":{}}`},
	}
}

func testProfile(tenant string) Profile {
	return Profile{
		Identifier:   "io.kiwistack." + tenant + ".browser-policy",
		DisplayName:  "KiwiStack browser policy (" + tenant + ")",
		Description:  "Kerberos sign-in for the tenant's apps",
		Organization: "KiwiStack",
		Preferences: []Preferences{
			{Domain: "org.chromium.Chromium", Settings: testSettings(tenant)},
			{Domain: "com.google.Chrome", Settings: testSettings(tenant)},
		},
	}
}

// The profile's shape, as plistutil reads it: a System-scope Configuration
// with one managed-preferences payload per domain, settings forced, and
// UUIDs that are version 5, distinct, stable and tenant-specific.
func TestRenderThroughPlistutil(t *testing.T) {
	b, err := testProfile("acme").Render()
	if err != nil {
		t.Fatal(err)
	}
	var p map[string]any
	if _, err := plist.Unmarshal(realtool.PlistRoundTrip(t, b), &p); err != nil {
		t.Fatal(err)
	}
	var direct map[string]any
	if _, err := plist.Unmarshal(b, &direct); err != nil || !reflect.DeepEqual(p, direct) {
		t.Fatalf("plistutil read something else: %v\n%v\n%v", err, p, direct)
	}
	uuidRE := regexp.MustCompile(`^[0-9A-F]{8}-[0-9A-F]{4}-5[0-9A-F]{3}-[89AB][0-9A-F]{3}-[0-9A-F]{12}$`)
	if p["PayloadType"] != "Configuration" || p["PayloadScope"] != "System" || p["PayloadIdentifier"] != "io.kiwistack.acme.browser-policy" ||
		p["PayloadVersion"] != uint64(1) || !uuidRE.MatchString(p["PayloadUUID"].(string)) {
		t.Errorf("profile: %v", p)
	}
	uuids := map[any]bool{p["PayloadUUID"]: true}
	payloads := p["PayloadContent"].([]any)
	if len(payloads) != 2 {
		t.Fatalf("%d payloads", len(payloads))
	}
	for i, domain := range []string{"org.chromium.Chromium", "com.google.Chrome"} {
		pl := payloads[i].(map[string]any)
		if pl["PayloadType"] != PreferencesPayloadType || pl["PayloadIdentifier"] != "io.kiwistack.acme.browser-policy."+domain ||
			pl["PayloadEnabled"] != true || !uuidRE.MatchString(pl["PayloadUUID"].(string)) || pl["PayloadUUID"] != UUID(pl["PayloadIdentifier"].(string)) {
			t.Errorf("payload %d: %v", i, pl)
		}
		uuids[pl["PayloadUUID"]] = true
		settings := pl["PayloadContent"].(map[string]any)[domain].(map[string]any)["Forced"].([]any)[0].(map[string]any)["mcx_preference_settings"]
		want := map[string]any{
			"AuthServerAllowlist":             "*.od.acme.kiwistack.io",
			"DisableAuthNegotiateCnameLookup": true,
			"AutoSelectCertificateForUrls":    []any{`{"pattern":"https://[*.]od.acme.kiwistack.io","filter":{}}`},
		}
		if !reflect.DeepEqual(settings, want) {
			t.Errorf("%s: settings %v", domain, settings)
		}
	}
	if len(uuids) != 3 {
		t.Errorf("payload UUIDs are not distinct: %v", uuids)
	}
	again, _ := testProfile("acme").Render()
	other, _ := testProfile("globex").Render()
	if !bytes.Equal(b, again) {
		t.Errorf("two renders differ")
	}
	if bytes.Contains(other, []byte(UUID("io.kiwistack.acme.browser-policy"))) {
		t.Errorf("another tenant's profile reuses acme's UUID")
	}
}

func TestRenderRejects(t *testing.T) {
	for _, mod := range []func(*Profile){
		func(p *Profile) { p.Identifier = "kiwistack" },
		func(p *Profile) { p.Identifier = "io.kiwistack.<x>" },
		func(p *Profile) { p.DisplayName = "" },
		func(p *Profile) { p.Description = "a\nb" },
		func(p *Profile) { p.Preferences = nil },
		func(p *Profile) { p.Preferences[1].Domain = p.Preferences[0].Domain },
		func(p *Profile) { p.Preferences[0].Domain = "org chromium" },
		func(p *Profile) { p.Preferences[0].Settings = map[string]any{"": "x"} },
		func(p *Profile) { p.Preferences[0].Settings = map[string]any{"k": "a\x00b"} },
		func(p *Profile) { p.Preferences[0].Settings = map[string]any{"k": []string{"ok", "a\nb"}} },
		func(p *Profile) { p.Preferences[0].Settings = map[string]any{"k": 1} },
		func(p *Profile) { p.Preferences[0].Settings = map[string]any{"k": nil} },
		func(p *Profile) { p.Preferences[0].Settings = map[string]any{"k": map[string]string{"a": "b"}} },
	} {
		p := testProfile("acme")
		mod(&p)
		if _, err := p.Render(); !errors.Is(err, ErrInvalid) {
			t.Errorf("%+v accepted: %v", p, err)
		}
	}
}
