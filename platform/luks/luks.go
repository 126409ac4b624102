// Package luks adds and removes LUKS2 key slots with cryptsetup(8), for
// the agent's disk recovery key (agent/disk, docs/disk-escrow.md): it
// finds the LUKS device under /, reads its header (version, UUID, slots in
// use), adds a key in a chosen slot authenticated by a key file the agent
// may use, kills a slot, and tests a key.
//
// Every command is exec'd with an argv, never through a shell; keys go
// to cryptsetup on standard input, never on a command line or in a file.
// It refuses a volume that is not LUKS2 and a full key-slot table before
// changing anything. It decides nothing about when to add or kill a key.
package luks

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os/exec"
	"slices"
	"strconv"
	"strings"
)

// MaxSlots is the number of key slots of a LUKS2 header.
const MaxSlots = 32

// Errors a caller decides on.
var (
	// ErrNotLUKS2 reports a device that is not a LUKS2 volume (LUKS1,
	// another format, or none).
	ErrNotLUKS2 = errors.New("not a LUKS2 volume")
	// ErrSlotsFull reports a header whose key slots are all in use.
	ErrSlotsFull = errors.New("every LUKS2 key slot is in use")
	// ErrNoRoot reports that / is not on a LUKS volume.
	ErrNoRoot = errors.New("the root file system is not on a LUKS volume")
)

// Runner runs argv with stdin and returns its standard output; a failure
// carries its standard error.
type Runner func(ctx context.Context, argv []string, stdin []byte) ([]byte, error)

// Exec is the Runner that runs commands for real.
func Exec(ctx context.Context, argv []string, stdin []byte) ([]byte, error) {
	var stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	cmd.Stdin = bytes.NewReader(stdin)
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return out, fmt.Errorf("running %s: %w: %s", strings.Join(argv, " "), err, bytes.TrimSpace(stderr.Bytes()))
	}
	return out, nil
}

// Device is one LUKS2 volume.
type Device struct {
	// Path is the block device, e.g. /dev/nvme0n1p3.
	Path string
	// AuthKeyFile is a key file that opens one of the volume's slots
	// (the installer's, docs/disk-escrow.md); it authenticates AddKey.
	AuthKeyFile string
	// PBKDF are extra luksAddKey options for the new slot's key
	// derivation; empty keeps cryptsetup's default (argon2id). Tests use
	// pbkdf2 with few iterations.
	PBKDF []string
	// Run runs cryptsetup; Exec when nil.
	Run Runner
}

// Info is what the header says.
type Info struct {
	// UUID is the volume's LUKS UUID.
	UUID string
	// Slots are the key slots in use, ascending.
	Slots []int
}

func (d Device) run(ctx context.Context, stdin []byte, args ...string) ([]byte, error) {
	r := d.Run
	if r == nil {
		r = Exec
	}
	return r(ctx, append([]string{"cryptsetup"}, args...), stdin)
}

// Inspect reads the header; ErrNotLUKS2 when the device is not LUKS2.
func (d Device) Inspect(ctx context.Context) (Info, error) {
	if _, err := d.run(ctx, nil, "isLuks", "--type", "luks2", d.Path); err != nil {
		if _, err1 := d.run(ctx, nil, "isLuks", d.Path); err1 == nil {
			return Info{}, fmt.Errorf("%s: %w: it is LUKS1 (convert it with cryptsetup convert --type luks2 while it is not open)", d.Path, ErrNotLUKS2)
		}
		return Info{}, fmt.Errorf("%s: %w: %w", d.Path, ErrNotLUKS2, err)
	}
	out, err := d.run(ctx, nil, "luksDump", "--dump-json-metadata", d.Path)
	if err != nil {
		return Info{}, fmt.Errorf("reading the LUKS2 header of %s: %w", d.Path, err)
	}
	slots, err := ParseSlots(out)
	if err != nil {
		return Info{}, fmt.Errorf("reading the LUKS2 header of %s: %w", d.Path, err)
	}
	uuid, err := d.run(ctx, nil, "luksUUID", d.Path)
	if err != nil {
		return Info{}, fmt.Errorf("reading the LUKS UUID of %s: %w", d.Path, err)
	}
	return Info{UUID: strings.TrimSpace(string(uuid)), Slots: slots}, nil
}

// ParseSlots reads the key slots in use from `cryptsetup luksDump
// --dump-json-metadata`.
func ParseSlots(metadata []byte) ([]int, error) {
	var m struct {
		Keyslots map[string]json.RawMessage `json:"keyslots"`
	}
	if err := json.Unmarshal(metadata, &m); err != nil {
		return nil, fmt.Errorf("LUKS2 metadata: %w", err)
	}
	if m.Keyslots == nil {
		return nil, errors.New("LUKS2 metadata: no keyslots object")
	}
	slots := make([]int, 0, len(m.Keyslots))
	for k := range m.Keyslots {
		n, err := strconv.Atoi(k)
		if err != nil || n < 0 || n >= MaxSlots {
			return nil, fmt.Errorf("LUKS2 metadata: key slot %q", k)
		}
		slots = append(slots, n)
	}
	slices.Sort(slots)
	return slots, nil
}

// FreeSlot is the lowest slot not in used; ErrSlotsFull if none.
func FreeSlot(used []int) (int, error) {
	for n := range MaxSlots {
		if !slices.Contains(used, n) {
			return n, nil
		}
	}
	return -1, ErrSlotsFull
}

// AddKey adds key as a passphrase in slot, authenticated by AuthKeyFile.
// It refuses a slot in use (the header is read first) and changes
// nothing then.
func (d Device) AddKey(ctx context.Context, slot int, key []byte) error {
	if d.AuthKeyFile == "" {
		return fmt.Errorf("adding a key to %s: no key file authenticates it", d.Path)
	}
	if bytes.ContainsAny(key, "\n\x00") {
		return errors.New("adding a key: a passphrase cannot hold a line break or NUL")
	}
	info, err := d.Inspect(ctx)
	if err != nil {
		return err
	}
	if slices.Contains(info.Slots, slot) {
		return fmt.Errorf("adding a key to %s: slot %d is in use", d.Path, slot)
	}
	if len(info.Slots) >= MaxSlots {
		return fmt.Errorf("adding a key to %s: %w", d.Path, ErrSlotsFull)
	}
	args := append([]string{"luksAddKey", "--batch-mode", "--key-file", d.AuthKeyFile, "--key-slot", strconv.Itoa(slot)}, d.PBKDF...)
	// The new passphrase is read from standard input up to the line break.
	if _, err := d.run(ctx, append(slices.Clone(key), '\n'), append(args, d.Path)...); err != nil {
		return fmt.Errorf("adding a key in slot %d of %s: %w", slot, d.Path, err)
	}
	return nil
}

// KillSlot destroys slot, authenticated by AuthKeyFile (which must open
// another slot); a slot not in use is not an error.
func (d Device) KillSlot(ctx context.Context, slot int) error {
	info, err := d.Inspect(ctx)
	if err != nil {
		return err
	}
	if !slices.Contains(info.Slots, slot) {
		return nil
	}
	if _, err := d.run(ctx, nil, "luksKillSlot", "--batch-mode", "--key-file", d.AuthKeyFile, d.Path, strconv.Itoa(slot)); err != nil {
		return fmt.Errorf("killing slot %d of %s: %w", slot, d.Path, err)
	}
	return nil
}

// TestKey reports whether key opens the volume (in slot, or any slot
// when slot < 0), without mapping it.
func (d Device) TestKey(ctx context.Context, slot int, key []byte) error {
	args := []string{"open", "--test-passphrase", "--key-file", "-"}
	if slot >= 0 {
		args = append(args, "--key-slot", strconv.Itoa(slot))
	}
	if _, err := d.run(ctx, key, append(args, d.Path)...); err != nil {
		return fmt.Errorf("testing a key on %s: %w", d.Path, err)
	}
	return nil
}
