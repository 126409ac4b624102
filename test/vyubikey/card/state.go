package card

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
)

// stateVersion is the schema version of the JSON state file.
const stateVersion = 1

// state is everything a YubiKey keeps across power cycles. Security status
// (PIN verified, management key authenticated) is volatile and not in here.
type state struct {
	Schema     int    `json:"schema"`
	Serial     uint32 `json:"serial"`
	Version    string `json:"version"`
	FormFactor byte   `json:"form_factor"`

	PIN          []byte `json:"pin"`
	PUK          []byte `json:"puk"`
	PINRetries   int    `json:"pin_retries"`
	PINRemaining int    `json:"pin_remaining"`
	PUKRetries   int    `json:"puk_retries"`
	PUKRemaining int    `json:"puk_remaining"`

	MgmtAlg   byte   `json:"mgmt_alg"`
	MgmtKey   []byte `json:"mgmt_key"`
	MgmtTouch bool   `json:"mgmt_touch,omitempty"`
	// MgmtDefault is set by a reset and cleared by SET MANAGEMENT KEY:
	// real keys report "not default" for the default key bytes under
	// another algorithm, and after setting them again.
	MgmtDefault bool `json:"mgmt_default"`

	// Keys maps a slot ("9a", "f9", ...) to its private key.
	Keys map[string]*slotKey `json:"keys"`
	// Objects maps a data object tag ("5fc105", ...) to the contents of
	// its 53 template.
	Objects map[string][]byte `json:"objects"`
}

// slotKey is one private key in a slot.
type slotKey struct {
	Alg    byte   `json:"alg"`
	PIN    byte   `json:"pin_policy"`
	Touch  byte   `json:"touch_policy"`
	Origin byte   `json:"origin"`
	PKCS8  []byte `json:"pkcs8"`
}

// loadState reads a state file; a missing file is (nil, nil).
func loadState(path string) (*state, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading card state: %w", err)
	}
	var s state
	if err := json.Unmarshal(b, &s); err != nil {
		return nil, fmt.Errorf("parsing card state %s: %w", path, err)
	}
	if s.Schema != stateVersion {
		return nil, fmt.Errorf("card state %s has schema %d, want %d", path, s.Schema, stateVersion)
	}
	if s.Keys == nil {
		s.Keys = map[string]*slotKey{}
	}
	if s.Objects == nil {
		s.Objects = map[string][]byte{}
	}
	return &s, nil
}

// saveState writes the state atomically: a temporary file in the same
// directory, fsync, rename over the old file, fsync of the directory. A crash
// leaves either the old or the new file, never a partial one.
func saveState(path string, s *state) error {
	b, err := json.MarshalIndent(s, "", "  ")
	if err != nil {
		return fmt.Errorf("encoding card state: %w", err)
	}
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp*")
	if err != nil {
		return fmt.Errorf("creating card state: %w", err)
	}
	tmp := f.Name()
	ok := false
	defer func() {
		if !ok {
			f.Close()
			os.Remove(tmp)
		}
	}()
	if err := f.Chmod(0o600); err != nil {
		return fmt.Errorf("setting card state mode: %w", err)
	}
	if _, err := f.Write(b); err != nil {
		return fmt.Errorf("writing card state: %w", err)
	}
	if err := f.Sync(); err != nil {
		return fmt.Errorf("syncing card state: %w", err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("closing card state: %w", err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("replacing card state: %w", err)
	}
	ok = true
	if d, err := os.Open(dir); err == nil {
		d.Sync() // best effort: the rename is already visible
		d.Close()
	}
	return nil
}
