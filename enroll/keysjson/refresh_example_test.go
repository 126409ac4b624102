package keysjson_test

import (
	"encoding/json"
	"fmt"

	"github.com/kiwistack/endpoint/enroll/keysjson"
)

// The contract scripts rely on: `kiwistack-enroll keys refresh --json`.
func ExampleRefresh() {
	id := keysjson.Identity{Admin: "John Doe", Role: "sysadmin", Tenant: "acme-corp",
		Issuer: "acme-corp Intermediate CA", NotAfter: "2027-06-01T00:00:00Z"}
	out := keysjson.Refresh{
		Schema:          keysjson.SchemaRefresh,
		Serial:          29173673,
		PublicKeySHA256: "3f1c9a",
		Old:             &keysjson.Certificate{Identity: id, IssuerKeyID: "8a41"},
	}
	id.NotAfter = "2027-11-28T00:00:00Z"
	out.New = keysjson.Certificate{Identity: id, IssuerKeyID: "c07e"}
	b, _ := json.MarshalIndent(out, "", "  ")
	fmt.Println(string(b))
	// Output:
	// {
	//   "schema": "kiwistack.keys.refresh/v1",
	//   "serial": 29173673,
	//   "public_key_sha256": "3f1c9a",
	//   "old": {
	//     "admin": "John Doe",
	//     "role": "sysadmin",
	//     "tenant": "acme-corp",
	//     "issuer": "acme-corp Intermediate CA",
	//     "not_after": "2027-06-01T00:00:00Z",
	//     "issuer_key_id": "8a41"
	//   },
	//   "new": {
	//     "admin": "John Doe",
	//     "role": "sysadmin",
	//     "tenant": "acme-corp",
	//     "issuer": "acme-corp Intermediate CA",
	//     "not_after": "2027-11-28T00:00:00Z",
	//     "issuer_key_id": "c07e"
	//   }
	// }
}
