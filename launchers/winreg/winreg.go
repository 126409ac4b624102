// Package winreg owns the Windows registry values the launchers set under
// HKEY_LOCAL_MACHINE (Chromium and Chrome policy, the URL dispatcher's
// registration) as data: REG_SZ and REG_DWORD values, deleted values, and
// deleted keys (a list policy's subkey is deleted before its items are
// written, so that a shorter list leaves no stale item), renders them as a .reg file for review, and
// applies them to a registry through Store: on Windows the machine's own
// through golang.org/x/sys/windows/registry (store_windows.go), elsewhere
// none (store_other.go), and MemStore in tests. The .reg file and Apply take
// the same []Value, so what is reviewed is what is written. It decides no
// value itself.
//
// The .reg file is "Windows Registry Editor Version 5.00" in UTF-16LE with
// a byte-order mark and CRLF line ends: the format regedit and `reg export`
// write on every Windows since 2000, so a reviewer can compare it with an
// export from a real machine, and it is Unicode, with no dependence on the
// machine's ANSI code page (REGEDIT4 is read in that code page, which would
// garble any non-ASCII name).
package winreg

import (
	"bytes"
	"errors"
	"fmt"
	"strings"
	"unicode/utf16"
	"unicode/utf8"
)

// ErrInvalid is wrapped by every validation error.
var ErrInvalid = errors.New("invalid registry value")

// Kind says what a Value does.
type Kind int

const (
	// String sets a REG_SZ value.
	String Kind = iota + 1
	// Delete removes the value if it is there (a policy the catalog no
	// longer sets).
	Delete
	// DWORD sets a REG_DWORD value (a boolean policy: 1 or 0).
	DWORD
	// DeleteKey removes the key, with its values and subkeys, if it is
	// there: "[-key]" in a .reg file. Its Name is empty, it must come
	// before every other value at or below its key (which then re-create
	// it), and the key must have at least three segments, so that no
	// hive-wide or vendor-wide key (SOFTWARE, SOFTWARE\Policies) can be
	// deleted by mistake.
	DeleteKey
)

// Value is one registry value under HKEY_LOCAL_MACHINE.
type Value struct {
	// Key is the key's path below HKEY_LOCAL_MACHINE, backslash-separated
	// ("SOFTWARE\Policies\Chromium").
	Key string
	// Name is the value's name; empty for the key's default value.
	Name string
	// Kind says what is done with the value.
	Kind Kind
	// String is the data of a String value.
	String string
	// DWord is the data of a DWORD value.
	DWord uint32
}

// RootName is the hive every Value lives in, as a .reg file spells it.
const RootName = "HKEY_LOCAL_MACHINE"

// Validate checks every value: key segments of printable characters
// without control characters (at most 255 each), names and strings without
// control characters, a known kind with data only in its own field, no
// value set twice, and each DeleteKey a key of at least three segments,
// without a name, before everything else at or below its key.
func Validate(vs []Value) error {
	seen := map[string]bool{}
	var keys []string // lower-case keys mentioned so far
	for i, v := range vs {
		if err := validKey(v.Key); err != nil {
			return fmt.Errorf("%w: value %d: %v", ErrInvalid, i, err)
		}
		if err := validText(v.Name, 16383); err != nil {
			return fmt.Errorf("%w: %s: name %q: %v", ErrInvalid, v.Key, v.Name, err)
		}
		if err := validText(v.String, 1<<15); err != nil {
			return fmt.Errorf("%w: %s\\%s: data: %v", ErrInvalid, v.Key, v.Name, err)
		}
		if v.Kind < String || v.Kind > DeleteKey {
			return fmt.Errorf("%w: %s\\%s: unknown kind %d", ErrInvalid, v.Key, v.Name, v.Kind)
		}
		if v.String != "" && v.Kind != String || v.DWord != 0 && v.Kind != DWORD {
			return fmt.Errorf("%w: %s\\%s: data that its kind does not have", ErrInvalid, v.Key, v.Name)
		}
		lower := strings.ToLower(v.Key)
		if v.Kind == DeleteKey {
			if v.Name != "" {
				return fmt.Errorf("%w: deleting key %s: a key deletion has no value name (%q)", ErrInvalid, v.Key, v.Name)
			}
			if strings.Count(v.Key, `\`) < 2 {
				return fmt.Errorf("%w: deleting key %s: want at least three segments", ErrInvalid, v.Key)
			}
			for _, k := range keys {
				if k == lower || strings.HasPrefix(k, lower+`\`) {
					return fmt.Errorf("%w: deleting key %s after a value at or below it", ErrInvalid, v.Key)
				}
			}
		}
		keys = append(keys, lower)
		id := lower + "\x00" + strings.ToLower(v.Name)
		if v.Kind == DeleteKey {
			id = lower + "\x00\x00" // never a value's: names hold no NUL
		}
		if seen[id] {
			return fmt.Errorf("%w: %s\\%s appears twice", ErrInvalid, v.Key, v.Name)
		}
		seen[id] = true
	}
	return nil
}

func validKey(k string) error {
	if k == "" {
		return errors.New("empty key")
	}
	for _, seg := range strings.Split(k, `\`) {
		if seg == "" || utf8.RuneCountInString(seg) > 255 {
			return fmt.Errorf("key %q: empty segment or one longer than 255 characters", k)
		}
		if err := validText(seg, 255); err != nil {
			return fmt.Errorf("key %q: %v", k, err)
		}
		if strings.ContainsAny(seg, "[]") {
			return fmt.Errorf("key %q: brackets would end the .reg key line", k)
		}
	}
	return nil
}

func validText(s string, max int) error {
	if !utf8.ValidString(s) {
		return errors.New("not valid UTF-8")
	}
	if len(s) > max {
		return fmt.Errorf("longer than %d bytes", max)
	}
	for _, r := range s {
		if r < 0x20 || r == 0x7f {
			return fmt.Errorf("control character %U", r)
		}
	}
	return nil
}

// RegFile renders vs as a .reg file: values grouped under their key, keys
// in the order they first appear, values in the order given; a DeleteKey
// is "[-key]", before the key's own block if values follow it; a DWORD is
// "dword:" and eight hex digits.
func RegFile(vs []Value) ([]byte, error) {
	if err := Validate(vs); err != nil {
		return nil, err
	}
	var keys []string
	byKey := map[string][]Value{}
	for _, v := range vs {
		if _, ok := byKey[v.Key]; !ok {
			keys = append(keys, v.Key)
		}
		byKey[v.Key] = append(byKey[v.Key], v)
	}
	var text strings.Builder
	text.WriteString("Windows Registry Editor Version 5.00\r\n")
	for _, k := range keys {
		vals := byKey[k]
		if vals[0].Kind == DeleteKey {
			text.WriteString("\r\n[-" + RootName + `\` + k + "]\r\n")
			vals = vals[1:]
			if len(vals) == 0 {
				continue
			}
		}
		text.WriteString("\r\n[" + RootName + `\` + k + "]\r\n")
		for _, v := range vals {
			name := "@"
			if v.Name != "" {
				name = quote(v.Name)
			}
			switch v.Kind {
			case String:
				text.WriteString(name + "=" + quote(v.String) + "\r\n")
			case DWORD:
				text.WriteString(fmt.Sprintf("%s=dword:%08x\r\n", name, v.DWord))
			case Delete:
				text.WriteString(name + "=-\r\n")
			}
		}
	}
	text.WriteString("\r\n")
	var b bytes.Buffer
	b.Write([]byte{0xff, 0xfe})
	for _, u := range utf16.Encode([]rune(text.String())) {
		b.Write([]byte{byte(u), byte(u >> 8)})
	}
	return b.Bytes(), nil
}

// quote is the .reg string syntax: double quotes, with '\' and '"'
// backslash-escaped.
func quote(s string) string {
	return `"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(s) + `"`
}

// Store is a registry the values can be applied to: HKEY_LOCAL_MACHINE of
// this machine (OpenMachine) or a MemStore.
type Store interface {
	// SetString sets a REG_SZ value, creating the key if needed.
	SetString(key, name, value string) error
	// SetDWORD sets a REG_DWORD value, creating the key if needed.
	SetDWORD(key, name string, value uint32) error
	// DeleteValue removes a value; a missing key or value is not an error.
	DeleteValue(key, name string) error
	// DeleteKey removes a key with its values and subkeys; a missing key
	// is not an error.
	DeleteKey(key string) error
}

// ErrUnsupported is returned by OpenMachine where there is no Windows
// registry.
var ErrUnsupported = errors.New("the Windows registry exists only on Windows")

// Apply validates vs and applies them to s in order, stopping at the first
// error. A key deletion followed by the key's values (a list policy) leaves
// the key without values for as long as the writes in between take; a
// Chromium that reads policy in that moment sees the list unset until its
// next policy refresh, as with `reg import` of the same .reg file.
func Apply(s Store, vs []Value) error {
	if err := Validate(vs); err != nil {
		return err
	}
	for _, v := range vs {
		var err error
		switch v.Kind {
		case String:
			err = s.SetString(v.Key, v.Name, v.String)
		case DWORD:
			err = s.SetDWORD(v.Key, v.Name, v.DWord)
		case Delete:
			err = s.DeleteValue(v.Key, v.Name)
		case DeleteKey:
			err = s.DeleteKey(v.Key)
		}
		if err != nil {
			return fmt.Errorf("applying %s\\%s\\%s: %w", RootName, v.Key, v.Name, err)
		}
	}
	return nil
}
