package status

import (
	"context"
	"encoding/json"
	"net"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"
)

type src struct{ triggered int }

func (s *src) Status() Status {
	return Status{Version: Version, Tunnel: Tunnel{State: "not configured"}, Enrollment: Enrollment{Enrolled: true, Tenant: "acme", DeviceID: "dev-1"}}
}
func (s *src) Trigger() { s.triggered++ }

func TestClientServer(t *testing.T) {
	s := &src{}
	srv := httptest.NewServer(Handler(s))
	defer srv.Close()
	addr := strings.TrimPrefix(srv.URL, "http://")
	c := NewClient(func(ctx context.Context) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, "tcp", addr)
	})
	got, err := c.Get(context.Background())
	if err != nil || got.Enrollment.DeviceID != "dev-1" {
		t.Fatalf("Get = %+v, %v", got, err)
	}
	if err := c.Reconcile(context.Background()); err != nil || s.triggered != 1 {
		t.Fatalf("Reconcile: %v, triggered %d", err, s.triggered)
	}
}

// Example shows schema version 1 as `kiwistack-agent status --json` prints
// it: scripts depend on these names.
func Example() {
	t := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	s := Status{
		Version: Version, Updated: t, Started: t.Add(-time.Hour), Resume: "logind",
		Enrollment: Enrollment{Enrolled: true, Tenant: "acme", DeviceID: "dev-1", APIURL: "https://api.acme.example"},
		Certificate: &Certificate{State: "valid", Serial: "1234", NotAfter: t.Add(16 * time.Hour),
			NextRenewal: t.Add(7 * time.Hour), LastRenewal: t.Add(-time.Hour)},
		Tunnel:      Tunnel{State: "not configured"},
		Controllers: []Controller{{Name: "enrollment", State: "enrolled", LastRun: t}},
	}
	enc := json.NewEncoder(os.Stdout)
	enc.SetIndent("", "  ")
	_ = enc.Encode(s)
	// Output:
	// {
	//   "version": 1,
	//   "updated": "2026-03-01T12:00:00Z",
	//   "started": "2026-03-01T11:00:00Z",
	//   "enrollment": {
	//     "enrolled": true,
	//     "tenant": "acme",
	//     "device_id": "dev-1",
	//     "api_url": "https://api.acme.example"
	//   },
	//   "certificate": {
	//     "state": "valid",
	//     "serial": "1234",
	//     "not_after": "2026-03-02T04:00:00Z",
	//     "next_renewal": "2026-03-01T19:00:00Z",
	//     "last_renewal": "2026-03-01T11:00:00Z"
	//   },
	//   "tunnel": {
	//     "state": "not configured"
	//   },
	//   "resume": "logind",
	//   "controllers": [
	//     {
	//       "name": "enrollment",
	//       "state": "enrolled",
	//       "last_run": "2026-03-01T12:00:00Z"
	//     }
	//   ]
	// }
}
