package dispatch

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"unicode/utf8"

	"github.com/kiwistack/endpoint/launchers/catalog"
	"github.com/kiwistack/endpoint/launchers/internal/safetext"
)

// StateSchema names the state file's shape; fields are only ever added.
const StateSchema = "kiwistack.dispatch.state/v1"

// MaxStateBytes is the largest state file ParseState reads: a full catalog
// and two command lines.
const MaxStateBytes = catalog.MaxBytes + 16<<10

// ErrInvalidState is wrapped by every ParseState error.
var ErrInvalidState = errors.New("invalid dispatcher state")

// State is what the render step leaves for the installed dispatcher: the
// catalog it rendered, the Chromium its launchers run, and the browser that
// was the default before the dispatcher took over. The dispatcher reads it
// on every link, so it holds everything a decision needs.
type State struct {
	Schema string `json:"schema"`
	// Catalog is the tenant's catalog, as rendered.
	Catalog *catalog.Catalog `json:"catalog"`
	// Browser is the absolute path of the Chromium that opens app windows;
	// empty when none was found.
	Browser string `json:"browser,omitempty"`
	// Previous is the argv prefix of the previous default browser (the URL
	// is appended); empty when none was found.
	Previous []string `json:"previous,omitempty"`
	// PreviousFrom says where Previous came from, for people ("the
	// default in /etc/xdg/mimeapps.list: firefox-esr.desktop").
	PreviousFrom string `json:"previous_from,omitempty"`
}

// Config returns the decision's configuration; self is the dispatcher's own
// executable.
func (s *State) Config(self string) Config {
	return Config{Catalog: s.Catalog, Browser: s.Browser, Previous: s.Previous, Self: self}
}

// Marshal validates the state and encodes it as indented JSON.
func (s *State) Marshal() ([]byte, error) {
	s.Schema = StateSchema
	if err := s.validate(); err != nil {
		return nil, err
	}
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	if err := enc.Encode(s); err != nil {
		return nil, fmt.Errorf("encoding the dispatcher state: %w", err)
	}
	return b.Bytes(), nil
}

// ParseState decodes and checks a state file: at most MaxStateBytes, the
// known schema, no unknown field (the catalog's included) or trailing data,
// a valid catalog, an absolute browser path, and a previous browser whose
// argv has a program first and nothing that reads as an option. The file is
// the render step's (root's), not the API's, so the catalog is not walked
// for duplicate keys as catalog.Decode does: that walk is two thirds of the
// time, and the dispatcher reads this file on every link.
func ParseState(b []byte) (*State, error) {
	if len(b) > MaxStateBytes {
		return nil, fmt.Errorf("%w: larger than %d bytes", ErrInvalidState, MaxStateBytes)
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	var s State
	if err := dec.Decode(&s); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrInvalidState, err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, fmt.Errorf("%w: data after the state", ErrInvalidState)
	}
	if s.Schema != StateSchema {
		return nil, fmt.Errorf("%w: schema %q, want %q", ErrInvalidState, safetext.Printable(s.Schema), StateSchema)
	}
	if err := s.validate(); err != nil {
		return nil, err
	}
	return &s, nil
}

func (s *State) validate() error {
	if s.Catalog == nil {
		return fmt.Errorf("%w: no catalog", ErrInvalidState)
	}
	if err := s.Catalog.Validate(); err != nil {
		return fmt.Errorf("%w: %w", ErrInvalidState, err)
	}
	return s.validateCommands()
}

// validateCommands checks what is not the catalog: the browser, the
// previous browser, the note.
func (s *State) validateCommands() error {
	if s.Browser != "" && !absolute(s.Browser) {
		return fmt.Errorf("%w: browser %q: want an absolute path", ErrInvalidState, safetext.Printable(s.Browser))
	}
	if err := validText(s.Browser, 4096); err != nil {
		return fmt.Errorf("%w: browser: %v", ErrInvalidState, err)
	}
	if len(s.Previous) > 16 {
		return fmt.Errorf("%w: previous browser: more than 16 arguments", ErrInvalidState)
	}
	for i, a := range s.Previous {
		if err := validText(a, 4096); err != nil {
			return fmt.Errorf("%w: previous browser argument %d: %v", ErrInvalidState, i, err)
		}
	}
	if len(s.Previous) > 0 && (s.Previous[0] == "" || strings.HasPrefix(s.Previous[0], "-")) {
		return fmt.Errorf("%w: previous browser: no program", ErrInvalidState)
	}
	if err := validText(s.PreviousFrom, 512); err != nil {
		return fmt.Errorf("%w: previous_from: %v", ErrInvalidState, err)
	}
	return nil
}

// absolute accepts a POSIX absolute path or a Windows drive path, whatever
// the OS the state is read on (the render step writes Windows state on
// Linux too).
func absolute(p string) bool {
	return strings.HasPrefix(p, "/") || len(p) > 3 && p[1] == ':' && p[2] == '\\' && (p[0] >= 'A' && p[0] <= 'Z' || p[0] >= 'a' && p[0] <= 'z')
}

func validText(s string, max int) error {
	if len(s) > max {
		return fmt.Errorf("longer than %d bytes", max)
	}
	if !utf8.ValidString(s) {
		return errors.New("not valid UTF-8")
	}
	for _, r := range s {
		if r < 0x20 || r == 0x7f {
			return fmt.Errorf("control character %U", r)
		}
	}
	return nil
}
