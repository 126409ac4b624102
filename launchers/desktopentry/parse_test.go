package desktopentry

import (
	"errors"
	"reflect"
	"strings"
	"testing"
	"unicode/utf8"
)

const firefox = `# a comment
[Desktop Entry]
Name=Firefox ESR
Name[de]=Firefox ESR (de)
Comment=Browse the World Wide Web
Exec=/usr/lib/firefox-esr/firefox-esr %u
Icon=firefox-esr
Terminal=false
Type=Application
MimeType=text/html;x-scheme-handler/http;x-scheme-handler/https;
Keywords=a\;b;c\sd

[Desktop Action new-window]
Name=New Window
Exec=/usr/lib/firefox-esr/firefox-esr --new-window %u
`

func TestParse(t *testing.T) {
	kv, err := Parse([]byte(firefox))
	if err != nil {
		t.Fatal(err)
	}
	for k, want := range map[string]string{
		"Name": "Firefox ESR", "Name[de]": "Firefox ESR (de)", "Exec": "/usr/lib/firefox-esr/firefox-esr %u",
		"Keywords": `a\;b;c d`, "MimeType": "text/html;x-scheme-handler/http;x-scheme-handler/https;",
	} {
		if kv[k] != want {
			t.Errorf("%s = %q, want %q", k, kv[k], want)
		}
	}
	if len(kv) != 9 {
		t.Errorf("%d keys: %v (the action group's keys must not leak in)", len(kv), kv)
	}
	// What Render writes, Parse reads back.
	e := Entry{Name: "KiwiStack Links", Exec: []string{"/usr/bin/kiwistack-agent", "dispatch"}, FieldCode: "%u",
		MimeTypes: []string{"x-scheme-handler/http", "x-scheme-handler/https"}, NoDisplay: true, Comment: " leading space"}
	b, err := e.Render()
	if err != nil {
		t.Fatal(err)
	}
	kv, err = Parse(b)
	if err != nil || kv["Exec"] != "/usr/bin/kiwistack-agent dispatch %u" || kv["NoDisplay"] != "true" ||
		kv["MimeType"] != "x-scheme-handler/http;x-scheme-handler/https;" || kv["Comment"] != " leading space" {
		t.Errorf("%v %v\n%s", kv, err, b)
	}
}

func TestParseRejects(t *testing.T) {
	for _, f := range []string{
		"", "Name=x\n", "[Desktop Entry]\nName\n", "[Desktop Entry]\nName=a\nName=b\n", "[Desktop Entry\nName=x\n",
		"[Desktop Entry]\nName=a\\nb\n", "[Desktop Entry]\nName=a\\q\n", "[Desktop Entry]\nName=a\\\n", "[Desktop Entry]\nNa me=x\n",
		"[Desktop Entry]\nName[de=x\n", "[Desktop Entry]\n[Desktop Entry]\n", "[Desktop Entry]\nName=\xff\n", "[Desktop Entry]\nName=a\x01\n",
		"[Desktop Entry]\n" + strings.Repeat("#", MaxFileBytes),
	} {
		if kv, err := Parse([]byte(f)); !errors.Is(err, ErrInvalid) {
			t.Errorf("%q accepted: %v", f, kv)
		}
	}
}

func TestExecArgv(t *testing.T) {
	const url = "https://example.com/?q=$(id)`id`;'\""
	for _, tc := range []struct {
		exec string
		want []string
	}{
		{"/usr/lib/firefox-esr/firefox-esr %u", []string{"/usr/lib/firefox-esr/firefox-esr", url}},
		{"/usr/bin/google-chrome-stable %U", []string{"/usr/bin/google-chrome-stable", url}},
		{"env BAMF_DESKTOP_FILE_HINT=/var/lib/snapd/desktop/applications/firefox_firefox.desktop /snap/bin/firefox %u",
			[]string{"env", "BAMF_DESKTOP_FILE_HINT=/var/lib/snapd/desktop/applications/firefox_firefox.desktop", "/snap/bin/firefox", url}},
		{"epiphany", []string{"epiphany", url}},
		{`"/opt/My Browser/browser" --class=x %i %c %k %u`, []string{"/opt/My Browser/browser", "--class=x", url}},
		{`prog "a \"q\" \$HOME \` + "`" + ` \\" 100%% --url=%u`, []string{"prog", "a \"q\" $HOME ` \\", "100%", "--url=" + url}},
		{`prog   two  spaces  %f`, []string{"prog", "two", "spaces", url}},
		{`prog ""`, []string{"prog", "", url}},
	} {
		got, err := ExecArgv(tc.exec, url)
		if err != nil || !reflect.DeepEqual(got, tc.want) {
			t.Errorf("%s: %q (%v), want %q", tc.exec, got, err, tc.want)
		}
	}
	// Started on its own, as a menu starts it.
	for exec, want := range map[string][]string{
		"/usr/bin/chromium --app=https://x/ --profile-directory=Work": {"/usr/bin/chromium", "--app=https://x/", "--profile-directory=Work"},
		"/usr/lib/firefox-esr/firefox-esr %u":                         {"/usr/lib/firefox-esr/firefox-esr"},
		"prog %U --flag":                                              {"prog", "--flag"},
		`prog --url=%u "" 100%%`:                                      {"prog", "--url=", "", "100%"},
	} {
		if got, err := ExecArgv(exec, ""); err != nil || !reflect.DeepEqual(got, want) {
			t.Errorf("%s on its own: %q (%v), want %q", exec, got, err, want)
		}
	}
	for _, bad := range []string{"", "  ", `"unterminated`, "prog %u %U", "prog %x", "prog %", `prog "a\qb"`, "prog\ta", `"" %u`} {
		if got, err := ExecArgv(bad, url); !errors.Is(err, ErrInvalid) {
			t.Errorf("%q accepted: %q", bad, got)
		}
	}
}

// FuzzExecRoundTrip: any argv ExecLine accepts comes back from Render,
// Parse and ExecArgv exactly, with the target appended unless it is empty
// (ExecLine writes no field code).
func FuzzExecRoundTrip(f *testing.F) {
	for _, argv := range trickyArgv {
		f.Add(strings.Join(argv, "\x01"), "https://x/")
	}
	f.Add("a\x01%u\x01%%", "t")
	f.Fuzz(func(t *testing.T, joined, target string) {
		argv := strings.Split(joined, "\x01")
		if argv[0] == "" || !utf8.ValidString(joined) {
			return
		}
		b, err := Entry{Name: "X", Exec: argv}.Render()
		if err != nil {
			return // control characters: refused, as they must be
		}
		kv, err := Parse(b)
		if err != nil {
			t.Fatalf("Parse of Render's output: %v\n%s", err, b)
		}
		got, err := ExecArgv(kv["Exec"], target)
		want := argv
		if target != "" {
			want = append(argv, target)
		}
		if err != nil || !reflect.DeepEqual(got, want) {
			t.Fatalf("%q came back as %q (%v)\n%s", argv, got, err, b)
		}
	})
}

// FuzzParse: whatever the bytes, Parse and ExecArgv return without panic,
// and an argv they produce has a program and holds the target exactly once
// as given when the Exec value has a single %u.
func FuzzParse(f *testing.F) {
	f.Add([]byte(firefox))
	f.Add([]byte("[Desktop Entry]\nExec=\"a b\" %U\n"))
	f.Add([]byte("[Desktop Entry]\nExec=x \"%u\"\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		kv, err := Parse(b)
		if err != nil {
			return
		}
		exec, ok := kv["Exec"]
		if !ok {
			return
		}
		const target = "\x00target\x00"
		argv, err := ExecArgv(exec, target)
		if err != nil {
			return
		}
		if len(argv) == 0 || argv[0] == "" {
			t.Fatalf("no program from %q", exec)
		}
		n := 0
		for _, a := range argv {
			n += strings.Count(a, target)
		}
		if n != 1 {
			t.Fatalf("target appears %d times in %q from %q", n, argv, exec)
		}
	})
}
