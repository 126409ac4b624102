package bitlocker

import (
	"context"
	"fmt"
	"slices"
)

// Add adds a recovery password protector to volume and returns it (its
// password only in memory, for sealing). ErrNotWindows elsewhere.
func Add(ctx context.Context, volume string) (Protector, error) {
	before, err := List(ctx, volume)
	if err != nil {
		return Protector{}, err
	}
	out, err := run(ctx, AddCommand(volume))
	if err != nil {
		return Protector{}, fmt.Errorf("adding a recovery password to %s: %w", volume, err)
	}
	ps, err := ParseProtectors(out)
	if err != nil {
		return Protector{}, err
	}
	for _, p := range ps {
		if !slices.ContainsFunc(before, func(b Protector) bool { return b.ID == p.ID }) {
			return p, nil
		}
	}
	return Protector{}, fmt.Errorf("adding a recovery password to %s: manage-bde printed no new protector", volume)
}

// List lists volume's recovery password protectors.
func List(ctx context.Context, volume string) ([]Protector, error) {
	out, err := run(ctx, ListCommand(volume))
	if err != nil {
		return nil, fmt.Errorf("listing the recovery passwords of %s: %w", volume, err)
	}
	return ParseProtectors(out)
}

// Delete deletes protector id of volume.
func Delete(ctx context.Context, volume, id string) error {
	if !ValidID(id) {
		return fmt.Errorf("deleting protector %q: not a GUID", id)
	}
	if _, err := run(ctx, DeleteCommand(volume, id)); err != nil {
		return fmt.Errorf("deleting protector %s of %s: %w", id, volume, err)
	}
	return nil
}
