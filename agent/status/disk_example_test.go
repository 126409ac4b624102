package status

import (
	"encoding/json"
	"os"
	"time"
)

// ExampleDisk shows the disk object of `kiwistack-agent status --json`
// (schema version 1): where the recovery key is and its escrow id, never
// the key.
func ExampleDisk() {
	slot := 1
	d := Disk{State: "escrowed", Device: "/dev/nvme0n1p3", Volume: "14eeb99c-b569-49c3-9cdf-32ff71008d9d", Slot: &slot,
		EscrowID: "esc-6Jq0mJ2c1T9yWQkqj3zG0A", EscrowedAt: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC), Rotations: 1}
	enc := json.NewEncoder(os.Stdout)
	enc.SetIndent("", "  ")
	_ = enc.Encode(d)
	// Output:
	// {
	//   "state": "escrowed",
	//   "device": "/dev/nvme0n1p3",
	//   "volume": "14eeb99c-b569-49c3-9cdf-32ff71008d9d",
	//   "slot": 1,
	//   "escrow_id": "esc-6Jq0mJ2c1T9yWQkqj3zG0A",
	//   "escrowed_at": "2026-03-01T12:00:00Z",
	//   "rotations": 1
	// }
}
