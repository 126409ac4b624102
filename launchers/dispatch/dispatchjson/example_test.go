package dispatchjson_test

import (
	"encoding/json"
	"fmt"

	"github.com/kiwistack/endpoint/launchers/dispatch/dispatchjson"
)

// The contract scripts rely on: `kiwistack-agent dispatch --explain URL --json`.
func ExampleExplain() {
	out := dispatchjson.Explain{
		Schema:       dispatchjson.SchemaExplain,
		Input:        "https://MAIL.od.acme.kiwistack.io./appsuite/",
		Target:       "launcher",
		Launcher:     "mail",
		LauncherName: "Mail · Calendar · Contacts · Tasks",
		URL:          "https://mail.od.acme.kiwistack.io/appsuite/",
		Argv:         []string{"/usr/bin/chromium", "--app=https://mail.od.acme.kiwistack.io/appsuite/", "--profile-directory=Work"},
		Reason:       "tenant-app",
		Explanation:  "mail.od.acme.kiwistack.io is the mail app's (subdomain routing)",
		Tenant:       "acme",
		Routing:      "subdomain",
	}
	b, _ := json.MarshalIndent(out, "", "  ")
	fmt.Println(string(b))
	// Output:
	// {
	//   "schema": "kiwistack.dispatch.explain/v1",
	//   "input": "https://MAIL.od.acme.kiwistack.io./appsuite/",
	//   "target": "launcher",
	//   "launcher": "mail",
	//   "launcher_name": "Mail · Calendar · Contacts · Tasks",
	//   "url": "https://mail.od.acme.kiwistack.io/appsuite/",
	//   "argv": [
	//     "/usr/bin/chromium",
	//     "--app=https://mail.od.acme.kiwistack.io/appsuite/",
	//     "--profile-directory=Work"
	//   ],
	//   "reason": "tenant-app",
	//   "explanation": "mail.od.acme.kiwistack.io is the mail app's (subdomain routing)",
	//   "tenant": "acme",
	//   "routing": "subdomain"
	// }
}
