// Package winreg owns the Windows registry values the launchers set under
// HKEY_LOCAL_MACHINE (Chromium and Chrome policy, the URL dispatcher's
// registration) as data, renders them as a .reg file for review, and
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
}

// RootName is the hive every Value lives in, as a .reg file spells it.
const RootName = "HKEY_LOCAL_MACHINE"

// Validate checks every value: key segments of printable characters
// without control characters (at most 255 each), names and strings without
// control characters, a known kind, and no value set twice.
func Validate(vs []Value) error {
	seen := map[string]bool{}
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
		if v.Kind < String || v.Kind > Delete {
			return fmt.Errorf("%w: %s\\%s: unknown kind %d", ErrInvalid, v.Key, v.Name, v.Kind)
		}
		id := strings.ToLower(v.Key) + "\x00" + strings.ToLower(v.Name)
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
// in the order they first appear, values in the order given.
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
		text.WriteString("\r\n[" + RootName + `\` + k + "]\r\n")
		for _, v := range byKey[k] {
			name := "@"
			if v.Name != "" {
				name = quote(v.Name)
			}
			switch v.Kind {
			case String:
				text.WriteString(name + "=" + quote(v.String) + "\r\n")
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
	// DeleteValue removes a value; a missing key or value is not an error.
	DeleteValue(key, name string) error
}

// ErrUnsupported is returned by OpenMachine where there is no Windows
// registry.
var ErrUnsupported = errors.New("the Windows registry exists only on Windows")

// Apply validates vs and applies them to s in order, stopping at the first
// error.
func Apply(s Store, vs []Value) error {
	if err := Validate(vs); err != nil {
		return err
	}
	for _, v := range vs {
		var err error
		switch v.Kind {
		case String:
			err = s.SetString(v.Key, v.Name, v.String)
		case Delete:
			err = s.DeleteValue(v.Key, v.Name)
		}
		if err != nil {
			return fmt.Errorf("applying %s\\%s\\%s: %w", RootName, v.Key, v.Name, err)
		}
	}
	return nil
}
