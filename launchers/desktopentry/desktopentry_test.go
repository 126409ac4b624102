package desktopentry

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/kiwistack/endpoint/launchers/internal/realtool"
)

// unescapeString undoes the specification's string escapes.
func unescapeString(t *testing.T, v string) string {
	t.Helper()
	var b strings.Builder
	for i := 0; i < len(v); i++ {
		if v[i] != '\\' {
			b.WriteByte(v[i])
			continue
		}
		i++
		if i == len(v) {
			t.Fatalf("dangling backslash in %q", v)
		}
		switch v[i] {
		case 's':
			b.WriteByte(' ')
		case 'n':
			b.WriteByte('\n')
		case 't':
			b.WriteByte('\t')
		case 'r':
			b.WriteByte('\r')
		case '\\':
			b.WriteByte('\\')
		default:
			t.Fatalf("unknown escape \\%c in %q", v[i], v)
		}
	}
	return b.String()
}

// splitExec is an independent reader of the Exec quoting rules, as a
// launcher (GLib, KIO) applies them: split on spaces outside double quotes,
// inside quotes a backslash escapes the next character, and "%%" is '%'.
func splitExec(t *testing.T, s string) []string {
	t.Helper()
	var out []string
	var cur strings.Builder
	inQuote, have := false, false
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case inQuote && c == '\\':
			i++
			cur.WriteByte(s[i])
		case c == '"':
			inQuote = !inQuote
			have = true
		case !inQuote && c == ' ':
			if have {
				out = append(out, cur.String())
				cur.Reset()
				have = false
			}
		case c == '%':
			if i+1 >= len(s) || s[i+1] != '%' {
				t.Fatalf("field code in %q", s)
			}
			i++
			cur.WriteByte('%')
			have = true
		default:
			cur.WriteByte(c)
			have = true
		}
	}
	if inQuote {
		t.Fatalf("unterminated quote in %q", s)
	}
	if have {
		out = append(out, cur.String())
	}
	return out
}

func keyValue(t *testing.T, file []byte, key string) string {
	for _, l := range strings.Split(string(file), "\n") {
		if v, ok := strings.CutPrefix(l, key+"="); ok {
			return v
		}
	}
	t.Fatalf("no %s in\n%s", key, file)
	return ""
}

var trickyArgv = [][]string{
	{"/usr/bin/chromium", "--app=https://mail.od.acme.kiwistack.io/", "--profile-directory=Work"},
	{"/opt/My Browser/chrome", "--app=https://x.example/a b"},
	{"/usr/bin/prog", `a"b`, "c`d", "$HOME", `back\slash`, "50%", "%u", ""},
	{"/usr/bin/prog", "semi;colon", "a|b", "a&b", "<x>", "~", "*?", "#hash", "(p)", "'single'"},
	{"/usr/bin/prog", "ünïcödé", "tab-free"},
}

// Every argv survives rendering and reading back, through both the string
// escapes and the Exec quoting.
func TestExecRoundTrip(t *testing.T) {
	for _, argv := range trickyArgv {
		e := Entry{Name: "X", Exec: argv}
		file, err := e.Render()
		if err != nil {
			t.Fatalf("%q: %v", argv, err)
		}
		got := splitExec(t, unescapeString(t, keyValue(t, file, "Exec")))
		if !reflect.DeepEqual(got, argv) {
			t.Errorf("round trip of %q gave %q (file:\n%s)", argv, got, file)
		}
	}
}

func TestExecLineExamples(t *testing.T) {
	for _, tc := range []struct {
		argv []string
		want string // the Exec value as written in the file
	}{
		{[]string{"/usr/bin/chromium", "--app=https://mail.od.acme.kiwistack.io/", "--profile-directory=Work"},
			"/usr/bin/chromium --app=https://mail.od.acme.kiwistack.io/ --profile-directory=Work"},
		{[]string{"/opt/a b/c"}, `"/opt/a b/c"`},
		{[]string{"p", `a"b`}, `p "a\\"b"`},
		{[]string{"p", `a\b`}, `p "a\\\\b"`},
		{[]string{"p", "$x"}, `p "\\$x"`},
		{[]string{"p", "100%"}, `p 100%%`},
		{[]string{"p", ""}, `p ""`},
	} {
		file, err := Entry{Name: "X", Exec: tc.argv}.Render()
		if err != nil {
			t.Fatal(err)
		}
		if got := keyValue(t, file, "Exec"); got != tc.want {
			t.Errorf("%q: Exec=%s, want %s", tc.argv, got, tc.want)
		}
	}
}

func TestRenderRejects(t *testing.T) {
	for _, e := range []Entry{
		{Exec: []string{"/bin/x"}},
		{Name: "X"},
		{Name: "X", Exec: []string{""}},
		{Name: "X\nExec=evil", Exec: []string{"/bin/x"}},
		{Name: "X", Exec: []string{"/bin/x", "a\nb"}},
		{Name: "X", Exec: []string{"/bin/x"}, Categories: []string{"A;B"}},
		{Name: "X", Exec: []string{"/bin/x"}, Icon: "a\rb"},
		{Name: "X", Exec: []string{"/bin/x"}, Comment: "\xff"},
	} {
		if _, err := e.Render(); !errors.Is(err, ErrInvalid) {
			t.Errorf("%+v: %v, want ErrInvalid", e, err)
		}
	}
}

func TestLeadingSpaceAndBackslash(t *testing.T) {
	file, err := Entry{Name: " Mail", Comment: `a\b`, Exec: []string{"/bin/x"}}.Render()
	if err != nil {
		t.Fatal(err)
	}
	if keyValue(t, file, "Name") != `\sMail` || keyValue(t, file, "Comment") != `a\\b` {
		t.Errorf("escapes:\n%s", file)
	}
}

// desktop-file-validate, the reference validator, accepts every entry,
// including the ones with quoted arguments.
func TestDesktopFileValidate(t *testing.T) {
	dir := t.TempDir()
	for i, argv := range trickyArgv {
		e := Entry{
			Name: "Mail · Calendar", Comment: "OX App Suite", Exec: argv, TryExec: argv[0],
			Icon: "kiwistack-mail", Categories: []string{"Office", "Email"}, Keywords: []string{"mail", "calendar"},
			StartupWMClass: "mail.od.acme.kiwistack.io", StartupNotify: true,
		}
		file, err := e.Render()
		if err != nil {
			t.Fatal(err)
		}
		path := filepath.Join(dir, "kiwistack-test"+string(rune('a'+i))+".desktop")
		if err := os.WriteFile(path, file, 0o644); err != nil {
			t.Fatal(err)
		}
		if out, err := realtool.Run(t, "desktop-file-validate", "desktop-file-utils", path); err != nil || strings.TrimSpace(out) != "" {
			t.Errorf("desktop-file-validate %s: %v\n%s\n%s", path, err, out, file)
		}
	}
}
