package roster

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func TestParse(t *testing.T) {
	tests := []struct {
		name, doc string
		want      string // error substring; "" for success
	}{
		{"one entry", "roster:\n  - {serial: 7, admin: Marie Schmidt, role: founder, public_key_sha256: ab}\n", ""},
		{"empty file", "", "empty file"},
		{"no entries", "roster: []\n", "roster list is empty"},
		{"unknown key", "roster:\n  - {serial: 7, colour: red}\n", "colour"},
		{"unknown top key", "roles: []\nroster:\n  - {serial: 7}\n", "roles"},
		{"duplicate key", "roster:\n  - serial: 7\n    serial: 8\n", "already defined"},
		{"two documents", "roster:\n  - {serial: 7}\n---\nroster: []\n", "more than one YAML document"},
		{"negative serial", "roster:\n  - {serial: -1}\n", "cannot unmarshal"},
	}
	for _, tt := range tests {
		entries, err := Parse([]byte(tt.doc))
		switch {
		case tt.want == "" && (err != nil || len(entries) != 1 || entries[0].Serial != 7 || entries[0].Admin != "Marie Schmidt"):
			t.Errorf("%s: %+v, %v", tt.name, entries, err)
		case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
			t.Errorf("%s: error %v, want %q", tt.name, err, tt.want)
		}
	}
}

func TestCheckRefusesPseudoSerials(t *testing.T) {
	err := Check(Entry{Serial: 1<<31 | 7, Admin: "Ada", Role: "founder"}, nil, time.Now())
	if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), "pseudo-serials") {
		t.Errorf("err = %v", err)
	}
}
