package api

import (
	"net/http"
	"testing"

	"github.com/kiwistack/endpoint/enroll/protocol"
)

// TestCheckInCarriesFleet: Config.Fleet reaches the device in its
// enrollment and in every check-in.
func TestCheckInCarriesFleet(t *testing.T) {
	want := protocol.FleetConfig{URL: "https://fleet.acme.test", EnrollSecret: "s3cr3t-TEAM"}
	o := newOpsEnv(t, func(c *Config) { c.Fleet = &want })
	er, leaf := o.enrolled(t, o.begin(t))
	if er.Config.Fleet == nil || *er.Config.Fleet != want {
		t.Fatalf("enrollment config fleet %+v", er.Config.Fleet)
	}
	x := &escrowEnv{opsEnv: o, leaf: leaf}
	got := x.checkIn(t)
	if got.Fleet == nil || *got.Fleet != want || got.DeviceID != er.DeviceID {
		t.Fatalf("check-in config fleet %+v", got.Fleet)
	}
	if got.Disk != nil {
		t.Errorf("disk config %+v without an escrow key", got.Disk)
	}
	if status, body := o.deviceRequest(t, leaf, http.MethodPost, protocol.PathDeviceDiskEscrow, []byte(`{}`)); status != http.StatusConflict || errorOf(t, body).Reason != ReasonNoEscrow {
		t.Errorf("escrow without an escrow key: %d %s", status, body)
	}
}
