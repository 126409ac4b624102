package mimeapps

import (
	"errors"
	"reflect"
	"strings"
	"testing"
)

const debian = `[Default Applications]
text/html=firefox-esr.desktop;
x-scheme-handler/https=firefox-esr.desktop;chromium.desktop;
# a comment the admin wrote
x-scheme-handler/http=firefox-esr.desktop

[Added Associations]
x-scheme-handler/https=chromium.desktop;
`

func TestDefaults(t *testing.T) {
	for _, tc := range []struct {
		file, mime string
		want       []string
	}{
		{debian, "x-scheme-handler/https", []string{"firefox-esr.desktop", "chromium.desktop"}},
		{debian, "x-scheme-handler/http", []string{"firefox-esr.desktop"}},
		{debian, "application/pdf", nil},
		{"", "x-scheme-handler/https", nil},
		{"[Default Applications]\nx=a.desktop\nx=b.desktop;\n", "x", []string{"b.desktop"}},
		{"[Added Associations]\nx=a.desktop\n", "x", nil},
	} {
		got, err := Defaults([]byte(tc.file), tc.mime)
		if err != nil || !reflect.DeepEqual(got, tc.want) {
			t.Errorf("%q in %q: %q (%v), want %q", tc.mime, tc.file, got, err, tc.want)
		}
	}
}

func TestSetDefaults(t *testing.T) {
	mimes := []string{"x-scheme-handler/http", "x-scheme-handler/https"}
	for _, tc := range []struct{ in, want string }{
		{"", "[Default Applications]\nx-scheme-handler/http=kiwistack-dispatch.desktop;\nx-scheme-handler/https=kiwistack-dispatch.desktop;\n"},
		{debian, `[Default Applications]
text/html=firefox-esr.desktop;
x-scheme-handler/https=kiwistack-dispatch.desktop;
# a comment the admin wrote
x-scheme-handler/http=kiwistack-dispatch.desktop;

[Added Associations]
x-scheme-handler/https=chromium.desktop;
`},
		{"[Added Associations]\nx=y\n", "[Added Associations]\nx=y\n\n[Default Applications]\nx-scheme-handler/http=kiwistack-dispatch.desktop;\nx-scheme-handler/https=kiwistack-dispatch.desktop;\n"},
		{"[Default Applications]\ntext/html=a.desktop\n[Other]\nk=v\n", "[Default Applications]\ntext/html=a.desktop\nx-scheme-handler/http=kiwistack-dispatch.desktop;\nx-scheme-handler/https=kiwistack-dispatch.desktop;\n[Other]\nk=v\n"},
		{"[Default Applications]\nx-scheme-handler/https=a.desktop\n", "[Default Applications]\nx-scheme-handler/https=kiwistack-dispatch.desktop;\nx-scheme-handler/http=kiwistack-dispatch.desktop;\n"},
	} {
		got, err := SetDefaults([]byte(tc.in), "kiwistack-dispatch.desktop", mimes...)
		if err != nil || string(got) != tc.want {
			t.Errorf("from %q:\n%s(%v)\nwant\n%s", tc.in, got, err, tc.want)
		}
		again, _ := SetDefaults(got, "kiwistack-dispatch.desktop", mimes...)
		if string(again) != string(got) {
			t.Errorf("not idempotent:\n%s\n%s", got, again)
		}
		for _, m := range mimes {
			if ids, _ := Defaults(got, m); !reflect.DeepEqual(ids, []string{"kiwistack-dispatch.desktop"}) {
				t.Errorf("%s: %q", m, ids)
			}
		}
	}
	for _, bad := range []string{"a=b.desktop", "a;b", "", "a b"} {
		if _, err := SetDefaults(nil, bad, mimes...); !errors.Is(err, ErrInvalid) {
			t.Errorf("id %q accepted", bad)
		}
	}
	for _, bad := range []string{"no group=x\n", "[Default Applications\n", "[Default Applications]\nnoequals\n", "[A]\nk=\x01\n", "\xff"} {
		if _, err := SetDefaults([]byte(bad), "k.desktop", mimes...); !errors.Is(err, ErrInvalid) {
			t.Errorf("%q accepted", bad)
		}
	}
}

// FuzzSetDefaults: whatever the file, SetDefaults either refuses it or
// returns a file in which the defaults are set, that SetDefaults leaves
// unchanged, and that keeps every line that was not a default for those
// types.
func FuzzSetDefaults(f *testing.F) {
	f.Add(debian)
	f.Add("")
	f.Add("[Default Applications]\r\nx-scheme-handler/https=a;\r\n[x]\n")
	mimes := []string{"x-scheme-handler/http", "x-scheme-handler/https"}
	f.Fuzz(func(t *testing.T, in string) {
		out, err := SetDefaults([]byte(in), "kiwistack-dispatch.desktop", mimes...)
		if err != nil {
			return
		}
		for _, m := range mimes {
			if ids, err := Defaults(out, m); err != nil || !reflect.DeepEqual(ids, []string{"kiwistack-dispatch.desktop"}) {
				t.Fatalf("%s in %q: %q %v", m, out, ids, err)
			}
		}
		if again, _ := SetDefaults(out, "kiwistack-dispatch.desktop", mimes...); string(again) != string(out) {
			t.Fatalf("not idempotent: %q -> %q", out, again)
		}
		lines, _ := parse([]byte(in))
		for _, l := range lines {
			if l.group == DefaultGroup && (l.key == mimes[0] || l.key == mimes[1]) {
				continue
			}
			if !strings.Contains(string(out), strings.TrimSuffix(l.text, "\r")) {
				t.Fatalf("line %q lost: %q", l.text, out)
			}
		}
	})
}
