package desktopentry

import (
	"bytes"
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/kiwistack/endpoint/launchers/internal/safetext"
)

// MaxFileBytes is the largest desktop file Parse reads; real ones are a few
// KiB, with translations.
const MaxFileBytes = 256 << 10

// Parse reads the [Desktop Entry] group of a desktop file (another
// package's, such as the browser that was the default) into its keys and
// values, with the string escapes undone. Comments, blank lines and other
// groups are skipped; localized keys ("Name[de]") are kept under their full
// key. It fails on a file that is not UTF-8, is larger than MaxFileBytes,
// has no [Desktop Entry] group, or has a malformed line or a duplicate key
// in that group.
func Parse(b []byte) (map[string]string, error) {
	if len(b) > MaxFileBytes {
		return nil, fmt.Errorf("%w: larger than %d bytes", ErrInvalid, MaxFileBytes)
	}
	if !utf8.Valid(b) {
		return nil, fmt.Errorf("%w: not UTF-8", ErrInvalid)
	}
	var kv map[string]string
	group := ""
	for n, line := range bytes.Split(b, []byte("\n")) {
		l := strings.TrimRight(string(line), "\r")
		switch {
		case strings.TrimSpace(l) == "" || strings.HasPrefix(l, "#"):
			continue
		case strings.HasPrefix(l, "["):
			if !strings.HasSuffix(l, "]") || strings.ContainsAny(l[1:len(l)-1], "[]") {
				return nil, fmt.Errorf("%w: line %d: malformed group header", ErrInvalid, n+1)
			}
			group = l[1 : len(l)-1]
			if group == "Desktop Entry" {
				if kv != nil {
					return nil, fmt.Errorf("%w: line %d: second [Desktop Entry] group", ErrInvalid, n+1)
				}
				kv = map[string]string{}
			}
			continue
		}
		if group == "" {
			return nil, fmt.Errorf("%w: line %d: a key before any group", ErrInvalid, n+1)
		}
		key, value, ok := strings.Cut(l, "=")
		if !ok {
			return nil, fmt.Errorf("%w: line %d: no '='", ErrInvalid, n+1)
		}
		if group != "Desktop Entry" {
			continue
		}
		key = strings.TrimSpace(key)
		if !validKey(key) {
			return nil, fmt.Errorf("%w: line %d: malformed key %q", ErrInvalid, n+1, safetext.Printable(key))
		}
		if _, dup := kv[key]; dup {
			return nil, fmt.Errorf("%w: line %d: duplicate key %s", ErrInvalid, n+1, key)
		}
		v, err := unescape(strings.TrimLeft(value, " \t"))
		if err != nil {
			return nil, fmt.Errorf("%w: line %d: %s: %v", ErrInvalid, n+1, key, err)
		}
		kv[key] = v
	}
	if kv == nil {
		return nil, fmt.Errorf("%w: no [Desktop Entry] group", ErrInvalid)
	}
	return kv, nil
}

// validKey accepts A-Za-z0-9- keys with an optional [locale] suffix.
func validKey(k string) bool {
	name, locale, hasLocale := strings.Cut(k, "[")
	if name == "" {
		return false
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		if !(c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-') {
			return false
		}
	}
	if !hasLocale {
		return true
	}
	if !strings.HasSuffix(locale, "]") || len(locale) < 2 {
		return false
	}
	for i := 0; i < len(locale)-1; i++ {
		c := locale[i]
		if !(c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || strings.IndexByte("_@.-", c) >= 0) {
			return false
		}
	}
	return true
}

// unescape undoes the string escapes \s \n \t \r \\ (and \; which list
// values use); control characters, escaped or not, are refused.
func unescape(v string) (string, error) {
	var b strings.Builder
	for i := 0; i < len(v); i++ {
		c := v[i]
		if c < 0x20 || c == 0x7f {
			return "", fmt.Errorf("control character %#x", c)
		}
		if c != '\\' {
			b.WriteByte(c)
			continue
		}
		i++
		if i == len(v) {
			return "", errors.New("dangling backslash")
		}
		switch v[i] {
		case 's':
			b.WriteByte(' ')
		case '\\':
			b.WriteByte('\\')
		case ';':
			b.WriteString(`\;`)
		case 'n', 't', 'r':
			return "", fmt.Errorf("escaped control character \\%c", v[i])
		default:
			return "", fmt.Errorf("unknown escape \\%c", v[i])
		}
	}
	return b.String(), nil
}

// ExecArgv splits an Exec value (as Parse returns it) by the
// specification's quoting rules and expands its field codes to open one
// target (a URL or a file): %u %U %f %F become target, and when none of them
// is present target is appended, as xdg-open does. An empty target starts
// the entry on its own, as a menu does: a field code that is a whole
// argument is dropped and nothing is appended. %% is '%'; %i %c %k and
// the deprecated %d %D %n %N %v %m expand to nothing. Field codes are
// expanded inside quotes too, as GLib does. Inside double quotes a
// backslash escapes '"', '`', '$' or '\'. Nothing is ever expanded by a
// shell: the result is an argv.
func ExecArgv(value, target string) ([]string, error) {
	var out []string
	var cur strings.Builder
	inQuote, have, used, onlyField := false, false, false, false
	for i := 0; i < len(value); i++ {
		c := value[i]
		switch {
		case c < 0x20 || c == 0x7f:
			return nil, fmt.Errorf("%w: Exec: control character %#x", ErrInvalid, c)
		case inQuote && c == '\\':
			if i+1 == len(value) || strings.IndexByte("\"`$\\", value[i+1]) < 0 {
				return nil, fmt.Errorf("%w: Exec: a backslash inside quotes must escape '\"', '`', '$' or '\\'", ErrInvalid)
			}
			i++
			cur.WriteByte(value[i])
		case c == '%':
			if i+1 == len(value) {
				return nil, fmt.Errorf("%w: Exec: a lone '%%' at the end", ErrInvalid)
			}
			i++
			switch value[i] {
			case '%':
				cur.WriteByte('%')
				have = true
			case 'u', 'U', 'f', 'F':
				if used {
					return nil, fmt.Errorf("%w: Exec: more than one target field code", ErrInvalid)
				}
				used = true
				if !have && cur.Len() == 0 && (i+1 == len(value) || value[i+1] == ' ') && target == "" {
					onlyField = true
				}
				cur.WriteString(target)
				have = true
			case 'i', 'c', 'k', 'd', 'D', 'n', 'N', 'v', 'm':
			default:
				return nil, fmt.Errorf("%w: Exec: unknown field code %%%c", ErrInvalid, value[i])
			}
		case c == '"':
			inQuote = !inQuote
			have = true
		case inQuote:
			cur.WriteByte(c)
		case c == ' ':
			if have && !onlyField {
				out = append(out, cur.String())
			}
			cur.Reset()
			have, onlyField = false, false
		default:
			cur.WriteByte(c)
			have = true
		}
	}
	if inQuote {
		return nil, fmt.Errorf("%w: Exec: unterminated quote", ErrInvalid)
	}
	if have && !onlyField {
		out = append(out, cur.String())
	}
	if len(out) == 0 || out[0] == "" {
		return nil, fmt.Errorf("%w: Exec: no program", ErrInvalid)
	}
	if !used && target != "" {
		out = append(out, target)
	}
	return out, nil
}
