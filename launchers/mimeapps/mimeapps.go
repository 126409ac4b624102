// Package mimeapps reads and edits mimeapps.list files (freedesktop.org
// "Association between MIME types and applications", version 1.0.1): which
// desktop entry is the default for a MIME type such as
// x-scheme-handler/https, where the system-wide files are, and how to set a
// default while keeping every other line of a file someone else also
// edits. It reads and writes no file itself.
package mimeapps

import (
	"bytes"
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"
)

// ErrInvalid is wrapped by every parse error.
var ErrInvalid = errors.New("invalid mimeapps.list")

// MaxBytes is the largest file read.
const MaxBytes = 1 << 20

// DefaultGroup holds the default applications.
const DefaultGroup = "Default Applications"

// SystemFiles are the system-wide mimeapps.list files, relative to the
// root, in the order the specification consults them when no user file
// decides: $XDG_CONFIG_DIRS (/etc/xdg), then $XDG_DATA_DIRS/applications
// (/usr/local/share, /usr/share). The user's own
// $XDG_CONFIG_HOME/mimeapps.list (~/.config/mimeapps.list) comes before all
// of them.
var SystemFiles = []string{
	"etc/xdg/mimeapps.list",
	"usr/local/share/applications/mimeapps.list",
	"usr/share/applications/mimeapps.list",
}

type line struct {
	text  string // the line as read, without its newline
	group string // the group it is in
	key   string // its key, for a key=value line
	value string
}

func parse(b []byte) ([]line, error) {
	if len(b) > MaxBytes {
		return nil, fmt.Errorf("%w: larger than %d bytes", ErrInvalid, MaxBytes)
	}
	if !utf8.Valid(b) {
		return nil, fmt.Errorf("%w: not UTF-8", ErrInvalid)
	}
	var lines []line
	group := ""
	text := strings.TrimSuffix(string(b), "\n")
	if text == "" {
		return nil, nil
	}
	for n, l := range strings.Split(text, "\n") {
		l = strings.TrimSuffix(l, "\r")
		if strings.IndexFunc(l, func(r rune) bool { return r < 0x20 && r != '\t' || r == 0x7f }) >= 0 {
			return nil, fmt.Errorf("%w: line %d: control character", ErrInvalid, n+1)
		}
		ln := line{text: l, group: group}
		switch t := strings.TrimSpace(l); {
		case t == "" || strings.HasPrefix(t, "#"):
		case strings.HasPrefix(t, "["):
			if !strings.HasSuffix(t, "]") {
				return nil, fmt.Errorf("%w: line %d: malformed group header", ErrInvalid, n+1)
			}
			group = t[1 : len(t)-1]
			ln.group = group
		default:
			k, v, ok := strings.Cut(t, "=")
			if !ok || group == "" {
				return nil, fmt.Errorf("%w: line %d: want key=value inside a group", ErrInvalid, n+1)
			}
			ln.key, ln.value = strings.TrimSpace(k), strings.TrimSpace(v)
		}
		lines = append(lines, ln)
	}
	return lines, nil
}

// Defaults returns the desktop-file IDs listed as defaults for mime in the
// file's [Default Applications] group, in order (the first installed one
// wins). The last line for mime counts, as with any repeated key.
func Defaults(b []byte, mime string) ([]string, error) {
	lines, err := parse(b)
	if err != nil {
		return nil, err
	}
	var ids []string
	for _, l := range lines {
		if l.group == DefaultGroup && l.key == mime {
			ids = nil
			for _, id := range strings.Split(l.value, ";") {
				if id = strings.TrimSpace(id); id != "" {
					ids = append(ids, id)
				}
			}
		}
	}
	return ids, nil
}

// SetDefaults returns b with each MIME type of mimes set to the single
// default id in [Default Applications]: existing lines for those types are
// replaced in place, missing ones are added at the end of the group, the
// group is added if missing; every other line stays as it was. id and the
// MIME types must be plain (no '=', ';', '[', ']' or whitespace).
func SetDefaults(b []byte, id string, mimes ...string) ([]byte, error) {
	for _, s := range append([]string{id}, mimes...) {
		if s == "" || strings.ContainsAny(s, "=;[] \t\r\n#") || !utf8.ValidString(s) {
			return nil, fmt.Errorf("%w: %q: not a plain desktop-file ID or MIME type", ErrInvalid, s)
		}
	}
	lines, err := parse(b)
	if err != nil {
		return nil, err
	}
	want := map[string]bool{}
	for _, m := range mimes {
		want[m] = true
	}
	done := map[string]bool{}
	var out bytes.Buffer
	emit := func(s string) { out.WriteString(s + "\n") }
	addMissing := func() {
		for _, m := range mimes {
			if !done[m] {
				emit(m + "=" + id + ";")
				done[m] = true
			}
		}
	}
	inDefault, sawDefault := false, false
	for _, l := range lines {
		isHeader := l.key == "" && strings.HasPrefix(strings.TrimSpace(l.text), "[")
		if isHeader && inDefault {
			addMissing()
			inDefault = false
		}
		if isHeader && l.group == DefaultGroup {
			inDefault, sawDefault = true, true
		}
		if l.group == DefaultGroup && want[l.key] {
			if !done[l.key] {
				emit(l.key + "=" + id + ";")
				done[l.key] = true
			}
			continue
		}
		emit(l.text)
	}
	if inDefault {
		addMissing()
	}
	if !sawDefault {
		if out.Len() > 0 {
			emit("")
		}
		emit("[" + DefaultGroup + "]")
		addMissing()
	}
	return out.Bytes(), nil
}
