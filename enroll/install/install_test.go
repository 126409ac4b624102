package install

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"errors"
	"io/fs"
	"strings"
	"testing"
	"time"

	"github.com/kiwistack/endpoint/enroll/protocol"
	"github.com/kiwistack/endpoint/platform/paths"
)

func TestReadNotEnrolled(t *testing.T) {
	if _, err := Read(paths.Under(t.TempDir())); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("err = %v, want fs.ErrNotExist", err)
	}
}

// TestCheckRefuses covers the refusals that need no PKI; the enroller's
// tests and agent/claim's (against a real tenant) cover the rest.
func TestCheckRefuses(t *testing.T) {
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	good := protocol.EnrollResponse{DeviceID: "d-1", Config: protocol.AgentConfig{DeviceID: "d-1", Tenant: "acme"}, Root: "x", Certificate: "y"}
	for name, mut := range map[string]func(*protocol.EnrollResponse){
		"device id":  func(r *protocol.EnrollResponse) { r.DeviceID = "d-2" },
		"config id":  func(r *protocol.EnrollResponse) { r.Config.DeviceID = "d-2" },
		"tenant":     func(r *protocol.EnrollResponse) { r.Config.Tenant = "globex" },
		"root":       func(*protocol.EnrollResponse) {},
		"empty root": func(r *protocol.EnrollResponse) { r.Root = "" },
	} {
		r := good
		mut(&r)
		if _, _, _, err := Check(&r, "acme", strings.Repeat("0", 64), "d-1", key, time.Now()); err == nil || !strings.Contains(err.Error(), "nothing was installed") {
			t.Errorf("%s: err = %v", name, err)
		}
	}
}
