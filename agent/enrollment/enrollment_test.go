package enrollment

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/kiwistack/endpoint/platform/paths"
)

func TestController(t *testing.T) {
	l := paths.Under(t.TempDir())
	c := New(l)
	if _, err := c.Reconcile(context.Background()); err != nil {
		t.Fatalf("not enrolled is not an error: %v", err)
	}
	if st, msg := c.State(); st != "not enrolled" || msg == "" || c.Record() != nil {
		t.Errorf("state = %s, %s", st, msg)
	}
	if _, err := Read(l); !errors.Is(err, ErrNotEnrolled) {
		t.Errorf("Read = %v, want ErrNotEnrolled", err)
	}
	if err := os.MkdirAll(filepath.Dir(l.Enrollment()), 0o700); err != nil {
		t.Fatal(err)
	}
	for _, c2 := range []struct{ name, body, state string }{
		{"damaged", "{", "error"},
		{"incomplete", `{"version":1,"tenant":"acme"}`, "error"},
		{"enrolled", `{"version":1,"tenant":"acme","device_id":"dev-1","ca_url":"https://ca","root_fingerprint":"ab","api_url":"https://api",
"certificate_file":"/etc/step/certs/device.crt","key_file":"/etc/step/secrets/device.key","root_file":"/etc/step/certs/root_ca.crt"}`, "enrolled"},
	} {
		t.Run(c2.name, func(t *testing.T) {
			if err := os.WriteFile(l.Enrollment(), []byte(c2.body), 0o644); err != nil {
				t.Fatal(err)
			}
			_, _ = c.Reconcile(context.Background())
			if st, _ := c.State(); st != c2.state {
				t.Errorf("state = %s, want %s", st, c2.state)
			}
		})
	}
	if r := c.Record(); r == nil || r.DeviceID != "dev-1" || r.Certificate != l.DeviceCert() {
		t.Errorf("record = %+v", r)
	}
}
