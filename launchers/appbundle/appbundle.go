// Package appbundle renders the two files of the minimal macOS application
// bundle a launcher is (seed "Desktop apps", C2, macOS): Contents/Info.plist,
// as an XML property list, and the bundle's executable, a POSIX sh script
// that execs Google Chrome or Chromium in app mode. Everything that reaches
// the script is checked against a closed alphabet and single-quoted, so no
// value is ever expanded by the shell. It is a pure renderer: it reads and
// writes no file and runs nothing.
package appbundle

import (
	"bytes"
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"

	"howett.net/plist"
)

// ErrInvalid is wrapped by every error of this package.
var ErrInvalid = errors.New("invalid app bundle")

// MinimumSystemVersion is the oldest macOS the bundles declare: the seed's
// macOS track is macOS 14 and later.
const MinimumSystemVersion = "14.0"

// Info is what a launcher's Info.plist says.
type Info struct {
	// Identifier is CFBundleIdentifier: reverse-DNS, A-Z a-z 0-9 '-' '.'.
	Identifier string
	// Name is CFBundleName and CFBundleDisplayName.
	Name string
	// Executable is CFBundleExecutable, the file in Contents/MacOS.
	Executable string
	// IconFile is CFBundleIconFile, the .icns in Contents/Resources;
	// empty for none.
	IconFile string
	// Version is CFBundleShortVersionString and CFBundleVersion.
	Version string
	// URLSchemes, when set, makes the bundle a handler of these URL
	// schemes (CFBundleURLTypes, role Viewer, LSHandlerRank Alternate:
	// LaunchServices never makes it the default on its own) and an
	// NSApplication (NSPrincipalClass), which the handler's Apple Events
	// need.
	URLSchemes []string
	// UIElement is LSUIElement: no Dock icon and no menu bar.
	UIElement bool
}

// urlType is one entry of CFBundleURLTypes.
type urlType struct {
	Name    string   `plist:"CFBundleURLName"`
	Schemes []string `plist:"CFBundleURLSchemes"`
	Role    string   `plist:"CFBundleTypeRole"`
	Rank    string   `plist:"LSHandlerRank"`
}

// infoPlist is the dictionary written; howett.net/plist sorts its keys.
type infoPlist struct {
	DevelopmentRegion     string    `plist:"CFBundleDevelopmentRegion"`
	DisplayName           string    `plist:"CFBundleDisplayName"`
	Executable            string    `plist:"CFBundleExecutable"`
	IconFile              string    `plist:"CFBundleIconFile,omitempty"`
	Identifier            string    `plist:"CFBundleIdentifier"`
	InfoDictionaryVersion string    `plist:"CFBundleInfoDictionaryVersion"`
	Name                  string    `plist:"CFBundleName"`
	PackageType           string    `plist:"CFBundlePackageType"`
	ShortVersion          string    `plist:"CFBundleShortVersionString"`
	URLTypes              []urlType `plist:"CFBundleURLTypes,omitempty"`
	Version               string    `plist:"CFBundleVersion"`
	Category              string    `plist:"LSApplicationCategoryType"`
	MinimumSystemVersion  string    `plist:"LSMinimumSystemVersion"`
	UIElement             bool      `plist:"LSUIElement,omitempty"`
	HighResolution        bool      `plist:"NSHighResolutionCapable"`
	PrincipalClass        string    `plist:"NSPrincipalClass,omitempty"`
}

// Plist renders Info.plist.
func (i Info) Plist() ([]byte, error) {
	if err := validIdentifier(i.Identifier); err != nil {
		return nil, err
	}
	for _, f := range []struct{ field, v string }{{"Executable", i.Executable}, {"IconFile", i.IconFile}, {"Version", i.Version}} {
		if f.v == "" && f.field == "IconFile" {
			continue
		}
		if err := validFileName(f.v); err != nil {
			return nil, fmt.Errorf("%s: %w", f.field, err)
		}
	}
	if err := validText(i.Name); err != nil {
		return nil, fmt.Errorf("name: %w", err)
	}
	var types []urlType
	principal := ""
	if len(i.URLSchemes) > 0 {
		for _, sc := range i.URLSchemes {
			if !validScheme(sc) {
				return nil, fmt.Errorf("%w: URL scheme %q", ErrInvalid, sc)
			}
		}
		types = []urlType{{Name: i.Identifier + ".url", Schemes: i.URLSchemes, Role: "Viewer", Rank: "Alternate"}}
		principal = "NSApplication"
	}
	return Marshal(infoPlist{
		DevelopmentRegion:     "en",
		DisplayName:           i.Name,
		Executable:            i.Executable,
		IconFile:              i.IconFile,
		Identifier:            i.Identifier,
		InfoDictionaryVersion: "6.0",
		Name:                  i.Name,
		PackageType:           "APPL",
		ShortVersion:          i.Version,
		Version:               i.Version,
		Category:              "public.app-category.productivity",
		MinimumSystemVersion:  MinimumSystemVersion,
		HighResolution:        true,
		URLTypes:              types,
		UIElement:             i.UIElement,
		PrincipalClass:        principal,
	})
}

func validScheme(s string) bool {
	if s == "" || len(s) > 32 || s[0] < 'a' || s[0] > 'z' {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '+' || c == '-' || c == '.') {
			return false
		}
	}
	return true
}

// CheckIdentifier checks a bundle identifier: reverse-DNS labels of
// A-Z a-z 0-9 '-'.
func CheckIdentifier(s string) error { return validIdentifier(s) }

// Marshal renders v as an XML property list with tab indentation and a
// final newline, the form macOS's own tools write.
func Marshal(v any) ([]byte, error) {
	b, err := plist.MarshalIndent(v, plist.XMLFormat, "\t")
	if err != nil {
		return nil, fmt.Errorf("encoding a property list: %w", err)
	}
	return append(b, '\n'), nil
}

// Browsers are the executables the wrapper tries, in order, relative to an
// applications folder: Google Chrome first (the browser most Macs have),
// then Chromium. Both read managed policy from their preference domain
// (com.google.Chrome, org.chromium.Chromium).
var Browsers = []string{
	"Google Chrome.app/Contents/MacOS/Google Chrome",
	"Chromium.app/Contents/MacOS/Chromium",
}

// Wrapper returns the bundle's executable: a POSIX sh script that execs the
// first of Browsers found in /Applications, then in ~/Applications, with
// args (chromium.AppArgs), or tells the user that a browser is missing and
// exits 127. identifier only goes into a comment. Every argument must be
// printable ASCII without quotes or backslashes (a launcher URL and the
// profile flag are), and is single-quoted besides, so nothing in it is
// expanded.
func Wrapper(identifier string, args []string) ([]byte, error) {
	if err := validIdentifier(identifier); err != nil {
		return nil, err
	}
	if len(args) == 0 {
		return nil, fmt.Errorf("%w: no arguments", ErrInvalid)
	}
	quoted := make([]string, len(args))
	for i, a := range args {
		if err := validArg(a); err != nil {
			return nil, fmt.Errorf("argument %d: %w", i, err)
		}
		quoted[i] = Quote(a)
	}
	apps := make([]string, len(Browsers))
	for i, b := range Browsers {
		apps[i] = Quote(b)
	}
	var b bytes.Buffer
	fmt.Fprintf(&b, `#!/bin/sh
# KiwiStack launcher %s, written by kiwistack-agent: changes are overwritten.
# Opens the app window in the first browser found, in /Applications and then
# in ~/Applications: Google Chrome, then Chromium. Nothing here is expanded
# except the folder and browser names below.
for dir in /Applications "$HOME/Applications"; do
	for app in %s; do
		if [ -x "$dir/$app" ]; then
			exec "$dir/$app" %s
		fi
	done
done
echo 'kiwistack: neither Google Chrome nor Chromium is installed in /Applications or ~/Applications' >&2
if [ -x /usr/bin/osascript ]; then
	/usr/bin/osascript -e 'display alert "Google Chrome is needed" message "Install Google Chrome or Chromium in Applications to open this app."' >/dev/null 2>&1
fi
exit 127
`, identifier, strings.Join(apps, " "), strings.Join(quoted, " "))
	return b.Bytes(), nil
}

// Quote returns s as one single-quoted POSIX shell word: inside single
// quotes nothing is special, and each quote in s becomes a closing quote,
// a backslash-escaped quote and an opening quote.
func Quote(s string) string {
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

func validIdentifier(s string) error {
	if s == "" || len(s) > 155 || s[0] == '.' || s[len(s)-1] == '.' || strings.Contains(s, "..") {
		return fmt.Errorf("%w: bundle identifier %q: want reverse-DNS labels", ErrInvalid, s)
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '.') {
			return fmt.Errorf("%w: bundle identifier %q: only A-Z a-z 0-9 '-' '.' are allowed", ErrInvalid, s)
		}
	}
	return nil
}

func validFileName(s string) error {
	if s == "" || len(s) > 64 || s[0] == '.' || s[0] == '-' {
		return fmt.Errorf("%w: %q: want 1 to 64 characters, not starting with '.' or '-'", ErrInvalid, s)
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '.' || c == '_') {
			return fmt.Errorf("%w: %q: only A-Z a-z 0-9 '-' '.' '_' are allowed", ErrInvalid, s)
		}
	}
	return nil
}

func validText(s string) error {
	if s == "" || !utf8.ValidString(s) {
		return fmt.Errorf("%w: empty or not UTF-8", ErrInvalid)
	}
	for _, r := range s {
		if r < 0x20 || r == 0x7f || r >= 0x80 && r < 0xa0 || r == 0xfffe || r == 0xffff {
			return fmt.Errorf("%w: %q holds character %U", ErrInvalid, s, r)
		}
	}
	return nil
}

func validArg(s string) error {
	if s == "" || len(s) > 2048 {
		return fmt.Errorf("%w: want 1 to 2048 bytes", ErrInvalid)
	}
	for i := 0; i < len(s); i++ {
		if s[i] <= ' ' || s[i] > '~' || strings.IndexByte("'\"\\`$", s[i]) >= 0 {
			return fmt.Errorf("%w: %q: character %q is not allowed", ErrInvalid, s, s[i])
		}
	}
	return nil
}
