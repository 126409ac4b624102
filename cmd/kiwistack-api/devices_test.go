package main

import (
	"context"
	"encoding/json"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/kiwistack/endpoint/server/dev"
	"github.com/kiwistack/endpoint/server/devices"
	"github.com/kiwistack/endpoint/server/store"
)

// deviceState creates a state directory whose store holds admin 12345678
// and one device, and returns the directory and the device.
func deviceState(t *testing.T) (string, store.Device) {
	t.Helper()
	ctx := context.Background()
	state := t.TempDir()
	st, err := store.Open(ctx, dev.DBPath(state))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if err := st.AddRosterEntry(ctx, store.RosterEntry{Serial: 12345678, Admin: "Marie Schmidt", Role: "founder", SPKISHA256: strings.Repeat("a", 64)}); err != nil {
		t.Fatal(err)
	}
	d, err := st.CreateDevice(ctx, store.Device{ID: "d-00000000000000000000000000000001", Tenant: "acme-corp", HardwareFingerprint: "hw-laptop-1",
		WireGuardPublicKey: "wg-1", EnrolledBy: 12345678,
		Certificates: []store.DeviceCertificate{{Serial: "1f", NotAfter: time.Now().Add(24 * time.Hour)}}})
	if err != nil {
		t.Fatal(err)
	}
	return state, d
}

func TestDevicesListAndAllow(t *testing.T) {
	ctx := context.Background()
	state, d := deviceState(t)

	out, errOut, code := runAPI("devices", "list", "--state", state)
	if code != 0 || !strings.Contains(out, d.ID) || !strings.Contains(out, "active") || !strings.Contains(out, "hw-laptop-1") {
		t.Fatalf("list: exit %d: %s %s", code, out, errOut)
	}

	for _, tc := range []struct {
		name string
		args []string
		code int
		want string
	}{
		{"unknown device", []string{d.ID[:len(d.ID)-1] + "9"}, 3, "not found"},
		{"longer than 7 days", []string{d.ID, "--for", "169h"}, 2, "at most 168h"},
		{"zero", []string{d.ID, "--for", "0s"}, 2, "above 0"},
	} {
		_, errOut, code := runAPI(append([]string{"devices", "allow-reenroll", "--state", state}, tc.args...)...)
		if code != tc.code || !strings.Contains(errOut, tc.want) {
			t.Errorf("%s: exit %d, %q; want exit %d and %q", tc.name, code, errOut, tc.code, tc.want)
		}
	}

	start := time.Now()
	out, errOut, code = runAPI("devices", "allow-reenroll", "--state", state, d.ID, "--for", "2h")
	if code != 0 || !strings.Contains(out, "allowed re-enrollment of "+d.ID+" (hardware hw-laptop-1) until ") ||
		!strings.Contains(out, "kiwistack-enroll enroll --reenroll --tenant acme-corp") {
		t.Fatalf("allow-reenroll: exit %d: %s %s", code, out, errOut)
	}

	st, err := store.Open(ctx, dev.DBPath(state))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	r, err := st.Reenrollment(ctx, "hw-laptop-1")
	if err != nil || r.DeviceID != d.ID || r.AllowedBy != 0 ||
		r.ExpiresAt.Before(start.Add(2*time.Hour-time.Second)) || r.ExpiresAt.After(time.Now().Add(2*time.Hour)) {
		t.Fatalf("allowance = %+v, %v", r, err)
	}
	entries, err := st.AuditEntries(ctx, 0, 10)
	if err != nil || len(entries) != 1 || entries[0].Actor != 0 || entries[0].Operation != devices.AuditOperation ||
		entries[0].Result != "accepted" || entries[0].ParamsDigest != devices.AllowanceDigest(d.ID, r.ExpiresAt) {
		t.Fatalf("audit = %+v, %v", entries, err)
	}

	out, errOut, code = runAPI("devices", "list", "--state", state, "--json")
	if code != 0 {
		t.Fatalf("list --json: exit %d: %s", code, errOut)
	}
	var list []devices.ListEntry
	if err := json.Unmarshal([]byte(out), &list); err != nil {
		t.Fatalf("list --json: %v: %s", err, out)
	}
	if len(list) != 1 || list[0].ID != d.ID || list[0].ReenrollUntil == nil || !list[0].ReenrollUntil.Equal(r.ExpiresAt) ||
		len(list[0].Certificates) != 1 || list[0].Certificates[0].Serial != "1f" || list[0].EnrolledBy != 12345678 {
		t.Fatalf("list = %+v", list)
	}

	// The laptop re-enrolls; the old record can no longer be allowed.
	if err := st.IssueNonce(ctx, store.Nonce{Value: "n", Operation: "enroll_device", ExpiresAt: time.Now().Add(time.Hour)}); err != nil {
		t.Fatal(err)
	}
	next := store.Device{ID: "d-00000000000000000000000000000002", Tenant: "acme-corp", HardwareFingerprint: "hw-laptop-1",
		WireGuardPublicKey: "wg-2", EnrolledBy: 12345678, Replaces: d.ID}
	if _, _, err := st.CompleteEnrollment(ctx, "n", time.Now(), next, store.AuditRecord{Actor: 12345678, Operation: "enroll_device", Result: "accepted", Reason: "reenrolled"}); err != nil {
		t.Fatal(err)
	}
	_, errOut, code = runAPI("devices", "allow-reenroll", "--state", state, d.ID)
	if code != 3 || !strings.Contains(errOut, "replaced by "+next.ID) {
		t.Errorf("allow-reenroll of a replaced device: exit %d, %s", code, errOut)
	}
	out, _, code = runAPI("devices", "list", "--state", state)
	if code != 0 || !strings.Contains(out, "replaced by "+next.ID) || !strings.Contains(out, next.ID) {
		t.Errorf("list after re-enrollment: exit %d: %s", code, out)
	}
}

func TestDevicesWithoutState(t *testing.T) {
	dir := t.TempDir()
	_, errOut, code := runAPI("devices", "list", "--state", dir)
	if code != 3 || !strings.Contains(errOut, "run kiwistack-api dev --state") {
		t.Errorf("exit %d: %s", code, errOut)
	}
	if _, err := os.Stat(dev.DBPath(dir)); !os.IsNotExist(err) {
		t.Errorf("list created a store in an empty directory: %v", err)
	}
}
