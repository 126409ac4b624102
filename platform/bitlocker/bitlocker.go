// Package bitlocker adds, lists and deletes BitLocker recovery password
// protectors with manage-bde.exe (docs/disk-escrow.md). The recovery
// password is 48 digits in 8 groups, each a multiple of 11: the format
// internal/escrow uses for LUKS, so one parser reads both.
//
// On Windows, Fleet turns BitLocker on and escrows the recovery password
// (the hand-off docs/disk-escrow.md describes); this package is the
// agent's own path for a tenant without Fleet's MDM: argv builders and an
// output parser that every OS compiles and tests, and a runner on
// Windows. It never passes a password on a command line: manage-bde
// generates it.
package bitlocker

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"regexp"
	"strings"

	"github.com/kiwistack/endpoint/internal/escrow"
)

// ManageBDE is manage-bde's path on Windows.
const ManageBDE = `C:\Windows\System32\manage-bde.exe`

// ErrNotWindows is the runner's answer off Windows.
var ErrNotWindows = errors.New("BitLocker is managed on Windows only")

// Protector is one recovery password protector.
type Protector struct {
	// ID is the protector's GUID, with braces.
	ID string
	// Password is the recovery password.
	Password escrow.RecoveryKey
}

// AddCommand adds a recovery password protector (manage-bde generates
// the password and prints it).
func AddCommand(volume string) []string {
	return []string{ManageBDE, "-protectors", "-add", volume, "-RecoveryPassword"}
}

// ListCommand lists the recovery password protectors.
func ListCommand(volume string) []string {
	return []string{ManageBDE, "-protectors", "-get", volume, "-Type", "RecoveryPassword"}
}

// DeleteCommand deletes protector id.
func DeleteCommand(volume, id string) []string {
	return []string{ManageBDE, "-protectors", "-delete", volume, "-id", id}
}

var guidRE = regexp.MustCompile(`^\{[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}\}$`)

// ValidID reports whether id is a protector GUID with braces.
func ValidID(id string) bool { return guidRE.MatchString(id) }

// ParseProtectors reads the "Numerical Password" protectors of a
// manage-bde -protectors -add or -get output: "ID: {GUID}", then
// "Password:" and the password on the next line. A password that is not
// a valid recovery password is an error.
func ParseProtectors(out []byte) ([]Protector, error) {
	var ps []Protector
	var cur *Protector
	wantPassword := false
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		switch {
		case strings.HasPrefix(line, "ID:"):
			id := strings.TrimSpace(strings.TrimPrefix(line, "ID:"))
			if !ValidID(id) {
				return nil, fmt.Errorf("manage-bde output: protector id %q is not a GUID", id)
			}
			ps = append(ps, Protector{ID: id})
			cur, wantPassword = &ps[len(ps)-1], false
		case line == "Password:" && cur != nil:
			wantPassword = true
		case wantPassword && line != "":
			k, err := escrow.ParseRecoveryKey(line)
			if err != nil {
				return nil, fmt.Errorf("manage-bde output: protector %s: %w", cur.ID, err)
			}
			cur.Password, wantPassword, cur = k, false, nil
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("manage-bde output: %w", err)
	}
	var out2 []Protector
	for _, p := range ps {
		if p.Password != (escrow.RecoveryKey{}) {
			out2 = append(out2, p)
		}
	}
	return out2, nil
}
