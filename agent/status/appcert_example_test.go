package status

import (
	"encoding/json"
	"os"
	"time"
)

// ExampleAppCertificate shows the app_certificate object of
// `kiwistack-agent status --json` (schema version 1): each desktop user's
// app certificate, where it is and until when.
func ExampleAppCertificate() {
	a := AppCertificate{State: "installed", Message: "1 user(s); the first certificate ends 2026-03-02T12:00:00Z",
		Users: []AppCertificateUser{{User: "alice", Store: "sql:/home/alice/.pki/nssdb", Installed: true,
			Serial: "254877601948362", NotAfter: time.Date(2026, 3, 2, 12, 0, 0, 0, time.UTC)}}}
	enc := json.NewEncoder(os.Stdout)
	enc.SetIndent("", "  ")
	_ = enc.Encode(a)
	// Output:
	// {
	//   "state": "installed",
	//   "message": "1 user(s); the first certificate ends 2026-03-02T12:00:00Z",
	//   "users": [
	//     {
	//       "user": "alice",
	//       "store": "sql:/home/alice/.pki/nssdb",
	//       "installed": true,
	//       "serial": "254877601948362",
	//       "not_after": "2026-03-02T12:00:00Z"
	//     }
	//   ]
	// }
}
