// Package desktopentry renders freedesktop.org desktop entries of
// Type=Application from data (Desktop Entry Specification 1.4: Debian's
// desktop-file-validate 0.26 knows no later version, and nothing here needs
// one), with the specification's escaping: the string escapes (\s \n \t
// \r \\) for every value and the Exec quoting rules for the command line.
// It also reads other packages' entries (Parse) and turns an Exec value into
// the argv that opens a URL (ExecArgv), for the URL dispatcher's previous
// browser. It reads and writes no file and runs nothing.
package desktopentry

import (
	"bytes"
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"
)

// Entry is one application desktop entry.
type Entry struct {
	// Name is the menu and dock label.
	Name string
	// Comment is the tooltip.
	Comment string
	// Exec is the argv to run: Exec[0] the program, then its arguments.
	// Each element is quoted as the specification requires, and '%' is
	// always written as "%%", so no field code can come from here.
	Exec []string
	// FieldCode, when set, follows Exec unquoted: "%u" (one URL), "%U",
	// "%f" or "%F". It is how a URL handler receives its URL.
	FieldCode string
	// TryExec, when set, hides the entry while that program is missing.
	TryExec string
	// Icon is an icon name from the theme, or an absolute path.
	Icon string
	// Categories are menu categories.
	Categories []string
	// Keywords are extra search terms.
	Keywords []string
	// StartupWMClass is the WM_CLASS the program's window will have.
	StartupWMClass string
	// StartupNotify says the program sends a startup notification.
	StartupNotify bool
	// MimeTypes are the MIME types the program opens
	// ("x-scheme-handler/https").
	MimeTypes []string
	// NoDisplay hides the entry from menus; it still handles its MIME
	// types.
	NoDisplay bool
}

// ErrInvalid is wrapped by every error Render returns.
var ErrInvalid = errors.New("invalid desktop entry")

// Render returns the entry as a file. Values may hold any UTF-8 text except
// control characters; Exec arguments are quoted where needed. The output
// ends with a newline and has a fixed key order, so equal entries give
// equal bytes.
func (e Entry) Render() ([]byte, error) {
	if e.Name == "" || len(e.Exec) == 0 || e.Exec[0] == "" {
		return nil, fmt.Errorf("%w: Name and Exec are required", ErrInvalid)
	}
	var b bytes.Buffer
	b.WriteString("[Desktop Entry]\n")
	line := func(key, value string) error {
		v, err := escapeString(value)
		if err != nil {
			return fmt.Errorf("%w: %s: %v", ErrInvalid, key, err)
		}
		b.WriteString(key + "=" + v + "\n")
		return nil
	}
	list := func(key string, items []string) error {
		if len(items) == 0 {
			return nil
		}
		var parts []string
		for _, it := range items {
			if it == "" || strings.ContainsAny(it, ";") {
				return fmt.Errorf("%w: %s: item %q is empty or holds ';'", ErrInvalid, key, it)
			}
			v, err := escapeString(it)
			if err != nil {
				return fmt.Errorf("%w: %s: %v", ErrInvalid, key, err)
			}
			parts = append(parts, v)
		}
		b.WriteString(key + "=" + strings.Join(parts, ";") + ";\n")
		return nil
	}
	exec, err := ExecLine(e.Exec)
	if err != nil {
		return nil, err
	}
	switch e.FieldCode {
	case "":
	case "%u", "%U", "%f", "%F":
		exec += " " + e.FieldCode
	default:
		return nil, fmt.Errorf("%w: field code %q: want %%u, %%U, %%f or %%F", ErrInvalid, e.FieldCode)
	}
	b.WriteString("Type=Application\nVersion=1.4\n")
	steps := []func() error{
		func() error { return line("Name", e.Name) },
		func() error {
			if e.Comment == "" {
				return nil
			}
			return line("Comment", e.Comment)
		},
		func() error { return line("Exec", exec) },
		func() error {
			if e.TryExec == "" {
				return nil
			}
			return line("TryExec", e.TryExec)
		},
		func() error {
			if e.Icon == "" {
				return nil
			}
			return line("Icon", e.Icon)
		},
		func() error { b.WriteString("Terminal=false\n"); return nil },
		func() error {
			if e.NoDisplay {
				b.WriteString("NoDisplay=true\n")
			}
			return nil
		},
		func() error { return list("Categories", e.Categories) },
		func() error { return list("MimeType", e.MimeTypes) },
		func() error { return list("Keywords", e.Keywords) },
		func() error {
			if e.StartupNotify {
				b.WriteString("StartupNotify=true\n")
			}
			return nil
		},
		func() error {
			if e.StartupWMClass == "" {
				return nil
			}
			return line("StartupWMClass", e.StartupWMClass)
		},
	}
	for _, s := range steps {
		if err := s(); err != nil {
			return nil, err
		}
	}
	return b.Bytes(), nil
}

// escapeString applies the specification's escapes for string values:
// backslash, and the \s for a leading space (which would otherwise be
// trimmed). Control characters are refused rather than escaped: no value
// here has a reason to carry one.
func escapeString(s string) (string, error) {
	if !utf8.ValidString(s) {
		return "", errors.New("not valid UTF-8")
	}
	var b strings.Builder
	for i, r := range s {
		switch {
		case r < 0x20 || r == 0x7f:
			return "", fmt.Errorf("control character %U", r)
		case r == '\\':
			b.WriteString(`\\`)
		case r == ' ' && i == 0:
			b.WriteString(`\s`)
		default:
			b.WriteRune(r)
		}
	}
	return b.String(), nil
}

// reserved are the characters that force an Exec argument into double
// quotes (Desktop Entry Specification, "The Exec key").
const reserved = " \t\n\"'\\><~|&;$*?#()`"

// ExecLine quotes argv as an Exec value, before the string escapes: an
// argument with a reserved character, or an empty one, is put in double
// quotes with '"', '`', '$' and '\' backslash-escaped inside; '%' is
// doubled everywhere so that no field code can appear. Control characters
// are refused.
func ExecLine(argv []string) (string, error) {
	var parts []string
	for i, a := range argv {
		for _, r := range a {
			if r < 0x20 || r == 0x7f {
				return "", fmt.Errorf("%w: Exec argument %d has control character %U", ErrInvalid, i, r)
			}
		}
		if !utf8.ValidString(a) {
			return "", fmt.Errorf("%w: Exec argument %d is not valid UTF-8", ErrInvalid, i)
		}
		a = strings.ReplaceAll(a, "%", "%%")
		if a != "" && !strings.ContainsAny(a, reserved) {
			parts = append(parts, a)
			continue
		}
		var q strings.Builder
		q.WriteByte('"')
		for _, r := range a {
			if strings.ContainsRune("\"`$\\", r) {
				q.WriteByte('\\')
			}
			q.WriteRune(r)
		}
		q.WriteByte('"')
		parts = append(parts, q.String())
	}
	return strings.Join(parts, " "), nil
}
