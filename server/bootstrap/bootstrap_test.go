package bootstrap

import (
	"encoding/json"
	"fmt"
	"testing"
	"time"
)

func TestParseLifetime(t *testing.T) {
	for in, want := range map[string]time.Duration{"30d": 30 * 24 * time.Hour, "1d": 24 * time.Hour, "12h": 12 * time.Hour, "90m": 90 * time.Minute} {
		if got, err := ParseLifetime(in); err != nil || got != want {
			t.Errorf("ParseLifetime(%q) = %s, %v; want %s", in, got, err, want)
		}
	}
	for _, in := range []string{"", "d", "0d", "-1d", "1.5d", "soon", "0s", "-1h"} {
		if _, err := ParseLifetime(in); err == nil {
			t.Errorf("ParseLifetime(%q) succeeded", in)
		}
	}
}

// ExampleListEntry shows version 1 of `bootstrap list --json`: an array of
// these objects, which never hold a token.
func ExampleListEntry() {
	used := time.Date(2026, 12, 1, 9, 30, 0, 0, time.UTC)
	b, _ := json.MarshalIndent([]ListEntry{{
		ID: "3f2a9c0d41be", Tenant: "acme", HardwareSerial: "PF3ABCDE", State: "used",
		CreatedAt: time.Date(2026, 11, 28, 8, 0, 0, 0, time.UTC), ExpiresAt: time.Date(2026, 12, 28, 8, 0, 0, 0, time.UTC),
		UsedAt: &used, DeviceID: "d-0123456789abcdef0123456789abcdef",
	}}, "", "  ")
	fmt.Println(string(b))
	// Output:
	// [
	//   {
	//     "id": "3f2a9c0d41be",
	//     "tenant": "acme",
	//     "hardware_serial": "PF3ABCDE",
	//     "state": "used",
	//     "created_at": "2026-11-28T08:00:00Z",
	//     "expires_at": "2026-12-28T08:00:00Z",
	//     "used_at": "2026-12-01T09:30:00Z",
	//     "device_id": "d-0123456789abcdef0123456789abcdef"
	//   }
	// ]
}
