package dispatch

import (
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/kiwistack/endpoint/launchers/catalog"
)

func testState(t testing.TB) *State {
	c, err := catalog.Defaults("acme", catalog.Path)
	if err != nil {
		t.Fatal(err)
	}
	return &State{Catalog: c, Browser: chromiumBin, Previous: []string{"env", "BAMF=x", "/snap/bin/firefox"},
		PreviousFrom: "the default in /etc/xdg/mimeapps.list: firefox_firefox.desktop"}
}

// What Marshal writes, ParseState reads back the same, and the decision it
// configures is the one the table tests describe.
func TestStateRoundTrip(t *testing.T) {
	s := testState(t)
	b, err := s.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	got, err := ParseState(b)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, s) || got.Schema != StateSchema {
		t.Errorf("read back\n%+v\nwant\n%+v", got, s)
	}
	d := Decide("https://od.acme.kiwistack.io/wiki/x", got.Config("/usr/bin/kiwistack-agent"))
	if d.Target != ToLauncher || d.Argv[0] != chromiumBin {
		t.Errorf("%+v", d)
	}
	d = Decide("https://example.com/", got.Config("/usr/bin/kiwistack-agent"))
	if !reflect.DeepEqual(d.Argv, []string{"env", "BAMF=x", "/snap/bin/firefox", "https://example.com/"}) {
		t.Errorf("%+v", d)
	}
	win := testState(t)
	win.Browser, win.Previous = `C:\Program Files\Google\Chrome\Application\chrome.exe`, []string{`C:\Program Files (x86)\Microsoft\Edge\Application\msedge.exe`}
	if b, err := win.Marshal(); err != nil {
		t.Errorf("Windows paths: %v", err)
	} else if _, err := ParseState(b); err != nil {
		t.Errorf("Windows paths: %v", err)
	}
}

func TestParseStateRejects(t *testing.T) {
	good, _ := testState(t).Marshal()
	g := string(good)
	for name, b := range map[string]string{
		"empty":            "",
		"not json":         "{",
		"trailing data":    g + "{}",
		"unknown field":    strings.Replace(g, `"schema"`, `"extra": 1, "schema"`, 1),
		"other schema":     strings.Replace(g, StateSchema, "kiwistack.dispatch.state/v9", 1),
		"no catalog":       `{"schema":"` + StateSchema + `"}`,
		"bad catalog":      strings.Replace(g, `"tenant": "acme"`, `"tenant": "ACME"`, 1),
		"duplicate tenant": strings.Replace(g, `"tenant": "acme"`, `"tenant": "acme", "tenant": "evil"`, 1),
		"catalog field":    strings.Replace(g, `"tenant": "acme"`, `"tenant": "acme", "extra": true`, 1),
		"relative browser": strings.Replace(g, `"browser": "/usr/bin/chromium"`, `"browser": "chromium"`, 1),
		"option program":   strings.Replace(g, `"env"`, `"--evil"`, 1),
		"control char":     strings.Replace(g, `"BAMF=x"`, `"BAMF=\nx"`, 1),
		"too large":        g + strings.Repeat(" ", MaxStateBytes),
	} {
		if s, err := ParseState([]byte(b)); !errors.Is(err, ErrInvalidState) {
			t.Errorf("%s: accepted (%v) %+v", name, err, s)
		}
	}
}

// FuzzParseState: whatever the bytes, a state ParseState accepts marshals
// and parses back the same, and decides without panicking; its previous
// browser never starts with an option.
func FuzzParseState(f *testing.F) {
	good, _ := testState(f).Marshal()
	f.Add(good)
	f.Add([]byte(`{"schema":"` + StateSchema + `","catalog":{}}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		s, err := ParseState(b)
		if err != nil {
			return
		}
		again, err := s.Marshal()
		if err != nil {
			t.Fatalf("accepted state does not marshal: %v", err)
		}
		s2, err := ParseState(again)
		if err != nil || !reflect.DeepEqual(s, s2) {
			t.Fatalf("round trip: %v\n%+v\n%+v", err, s, s2)
		}
		if len(s.Previous) > 0 && strings.HasPrefix(s.Previous[0], "-") {
			t.Fatalf("previous browser %q", s.Previous)
		}
		_ = Decide("https://example.com/", s.Config("/usr/bin/kiwistack-agent"))
	})
}
