package appbundle

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/kiwistack/endpoint/launchers/internal/realtool"
	"howett.net/plist"
)

var mail = Info{
	Identifier: "io.kiwistack.launcher.mail",
	Name:       "Mail · Calendar · Contacts · Tasks",
	Executable: "kiwistack-mail",
	IconFile:   "kiwistack-mail.icns",
	Version:    "1",
}

// plistutil reads every key of Info.plist as written, including a name
// beyond ASCII and the XML metacharacters the plist escaping must carry.
func TestInfoPlistThroughPlistutil(t *testing.T) {
	for _, name := range []string{mail.Name, `R&D <Wiki> "Notes" 'x'`} {
		info := mail
		info.Name = name
		b, err := info.Plist()
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.HasPrefix(b, []byte(`<?xml version="1.0" encoding="UTF-8"?>`)) || !bytes.HasSuffix(b, []byte("</plist>\n")) {
			t.Errorf("not an XML plist:\n%s", b)
		}
		var want map[string]any
		if _, err := plist.Unmarshal(b, &want); err != nil {
			t.Fatal(err)
		}
		var got map[string]any
		if _, err := plist.Unmarshal(realtool.PlistRoundTrip(t, b), &got); err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("plistutil read\n%v\nwant\n%v", got, want)
		}
		for k, v := range map[string]any{
			"CFBundleIdentifier": "io.kiwistack.launcher.mail", "CFBundleDisplayName": name, "CFBundleName": name,
			"CFBundleExecutable": "kiwistack-mail", "CFBundleIconFile": "kiwistack-mail.icns", "CFBundlePackageType": "APPL",
			"LSMinimumSystemVersion": "14.0", "NSHighResolutionCapable": true, "CFBundleInfoDictionaryVersion": "6.0",
		} {
			if got[k] != v {
				t.Errorf("%s = %v, want %v", k, got[k], v)
			}
		}
	}
}

func TestInfoRejects(t *testing.T) {
	for _, mod := range []func(*Info){
		func(i *Info) { i.Identifier = "io.kiwistack..mail" },
		func(i *Info) { i.Identifier = "io.kiwistack/mail" },
		func(i *Info) { i.Identifier = "" },
		func(i *Info) { i.Executable = "../kiwistack-mail" },
		func(i *Info) { i.Executable = "-x" },
		func(i *Info) { i.IconFile = "a b.icns" },
		func(i *Info) { i.Name = "Mail\nx" },
		func(i *Info) { i.Name = "" },
		func(i *Info) { i.Version = "" },
	} {
		info := mail
		mod(&info)
		if b, err := info.Plist(); !errors.Is(err, ErrInvalid) {
			t.Errorf("%+v accepted:\n%s", info, b)
		}
	}
}

// Quote's words come out of the real sh exactly as they went in, whatever
// they hold: no expansion, no word splitting, no command substitution.
func TestQuoteThroughSh(t *testing.T) {
	sh := realtool.Require(t, "sh", "dash")
	dir := t.TempDir()
	pwned := filepath.Join(dir, "pwned")
	for _, s := range []string{
		"plain", "", "it's", "''", `"double"`, "$(touch " + pwned + ")", "`touch " + pwned + "`", "a;touch " + pwned,
		"$HOME ${HOME} $1 $@", `back\slash\`, "new\nline", "*", "~root", "-n", "tab\there", "a|b&c>d<e",
	} {
		out, err := exec.Command(sh, "-c", "printf '%s' "+Quote(s)).Output()
		if err != nil || string(out) != s {
			t.Errorf("Quote(%q) through sh gave %q (%v)", s, out, err)
		}
	}
	if _, err := os.Stat(pwned); !os.IsNotExist(err) {
		t.Errorf("a quoted word ran a command")
	}
}

var appArgs = []string{"--app=https://mail.od.acme.kiwistack.io/", "--profile-directory=Work"}

// standIn writes an executable sh script at path that records its
// arguments, one per line, to record.
func standIn(t *testing.T, path, record string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	script := "#!/bin/sh\nprintf '%s\\n' \"$0\" \"$@\" > " + Quote(record) + "\n"
	if err := os.WriteFile(path, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
}

// The wrapper passes shellcheck as POSIX sh, and run by the real sh it
// execs the first browser it finds with exactly the app-mode arguments:
// Google Chrome before Chromium; with neither it exits 127.
func TestWrapperRuns(t *testing.T) {
	b, err := Wrapper("io.kiwistack.launcher.mail", appArgs)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	script := filepath.Join(dir, "kiwistack-mail")
	if err := os.WriteFile(script, b, 0o755); err != nil {
		t.Fatal(err)
	}
	if out, err := realtool.Run(t, "shellcheck", "shellcheck", "--shell=sh", "--severity=style", script); err != nil {
		t.Errorf("shellcheck: %v\n%s", err, out)
	}
	sh := realtool.Require(t, "sh", "dash")
	run := func(home string) (string, int) {
		cmd := exec.Command(sh, script)
		cmd.Env = []string{"HOME=" + home, "PATH=/usr/bin:/bin"}
		out, err := cmd.CombinedOutput()
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			return string(out), ee.ExitCode()
		}
		if err != nil {
			t.Fatal(err)
		}
		return string(out), 0
	}
	home := filepath.Join(dir, "home")
	record := filepath.Join(dir, "argv")
	if out, code := run(home); code != 127 || !strings.Contains(out, "neither Google Chrome nor Chromium") {
		t.Errorf("without a browser: exit %d: %s", code, out)
	}
	chromium := filepath.Join(home, "Applications", Browsers[1])
	standIn(t, chromium, record)
	if out, code := run(home); code != 0 {
		t.Fatalf("exit %d: %s", code, out)
	}
	wantArgv := func(prog string) {
		t.Helper()
		got, err := os.ReadFile(record)
		if err != nil {
			t.Fatal(err)
		}
		want := strings.Join(append([]string{prog}, appArgs...), "\n") + "\n"
		if string(got) != want {
			t.Errorf("argv\n%s\nwant\n%s", got, want)
		}
	}
	wantArgv(chromium)
	chrome := filepath.Join(home, "Applications", Browsers[0])
	standIn(t, chrome, record)
	if out, code := run(home); code != 0 {
		t.Fatalf("exit %d: %s", code, out)
	}
	wantArgv(chrome)
}

func TestWrapperRejects(t *testing.T) {
	for _, args := range [][]string{
		nil,
		{"--app=https://x/'; touch /tmp/x; '"},
		{"--app=https://x/$(id)"},
		{"--app=https://x/`id`"},
		{"--app=https://x/ y"},
		{"--app=https://x/\\"},
		{""},
	} {
		if _, err := Wrapper("io.kiwistack.launcher.mail", args); !errors.Is(err, ErrInvalid) {
			t.Errorf("%q accepted", args)
		}
	}
	if _, err := Wrapper("io.kiwistack.launcher.mail\nrm -rf /", appArgs); !errors.Is(err, ErrInvalid) {
		t.Errorf("identifier with a newline accepted")
	}
}

func TestURLSchemes(t *testing.T) {
	i := Info{Identifier: "io.kiwistack.dispatcher", Name: "KiwiStack", Executable: "kiwistack-agent", Version: "1",
		URLSchemes: []string{"http", "https"}, UIElement: true}
	b, err := i.Plist()
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"<key>CFBundleURLSchemes</key>", "<key>LSUIElement</key>\n\t\t<true/>", "<string>NSApplication</string>"} {
		if !bytes.Contains(b, []byte(want)) {
			t.Errorf("no %q in\n%s", want, b)
		}
	}
	if bytes.Contains(b, []byte("CFBundleIconFile")) {
		t.Errorf("an empty icon file is written")
	}
	for _, bad := range []string{"", "HTTP", "ht tp", "1http", "https:", "a<b"} {
		i.URLSchemes = []string{bad}
		if _, err := i.Plist(); !errors.Is(err, ErrInvalid) {
			t.Errorf("scheme %q: %v", bad, err)
		}
	}
}
