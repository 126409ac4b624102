package devices_test

import (
	"encoding/json"
	"os"
	"time"

	"github.com/kiwistack/endpoint/server/devices"
)

// The JSON of `kiwistack-api devices list --json`, version 1.
func ExampleListEntry() {
	t := time.Date(2026, 11, 28, 12, 0, 0, 0, time.UTC)
	until := t.Add(24 * time.Hour)
	e := []devices.ListEntry{{
		ID: "d-0123456789abcdef0123456789abcdef", Tenant: "acme", HardwareFingerprint: "hw-1",
		WireGuardPublicKey: "wg-key", Status: "active", EnrolledBy: 12345678, Replaces: "d-fedcba9876543210fedcba9876543210",
		ReenrollUntil: &until, Certificates: []devices.Certificate{{Serial: "1f", NotAfter: until, IssuedAt: t}},
		CreatedAt: t, UpdatedAt: t,
	}}
	enc := json.NewEncoder(os.Stdout)
	enc.SetIndent("", "  ")
	_ = enc.Encode(e)
	// Output:
	// [
	//   {
	//     "id": "d-0123456789abcdef0123456789abcdef",
	//     "tenant": "acme",
	//     "hardware_fingerprint": "hw-1",
	//     "wireguard_public_key": "wg-key",
	//     "status": "active",
	//     "enrolled_by": 12345678,
	//     "replaces": "d-fedcba9876543210fedcba9876543210",
	//     "reenroll_until": "2026-11-29T12:00:00Z",
	//     "certificates": [
	//       {
	//         "serial": "1f",
	//         "not_after": "2026-11-29T12:00:00Z",
	//         "issued_at": "2026-11-28T12:00:00Z"
	//       }
	//     ],
	//     "created_at": "2026-11-28T12:00:00Z",
	//     "updated_at": "2026-11-28T12:00:00Z"
	//   }
	// ]
}
