package keysjson_test

import (
	"encoding/json"
	"fmt"

	"github.com/kiwistack/endpoint/enroll/keysjson"
)

// The contract scripts rely on: `kiwistack-enroll keys list --json`.
func ExampleList() {
	out := keysjson.List{
		Schema: keysjson.SchemaList,
		Keys: []keysjson.Key{{
			Serial: 29173673, Firmware: "5.7.1", Reader: "Yubico YubiKey OTP+FIDO+CCID 00 00",
			FormFactor: "USB-C keychain", PINRetries: 3,
			Slot9a: &keysjson.Identity{Admin: "John Doe", Role: "sysadmin", Tenant: "acme-corp",
				Issuer: "acme-corp Intermediate CA", NotAfter: "2027-11-28T00:00:00Z"},
		}},
	}
	b, _ := json.MarshalIndent(out, "", "  ")
	fmt.Println(string(b))
	// Output:
	// {
	//   "schema": "kiwistack.keys.list/v1",
	//   "keys": [
	//     {
	//       "serial": 29173673,
	//       "firmware": "5.7.1",
	//       "reader": "Yubico YubiKey OTP+FIDO+CCID 00 00",
	//       "form_factor": "USB-C keychain",
	//       "pin_retries": 3,
	//       "slot_9a": {
	//         "admin": "John Doe",
	//         "role": "sysadmin",
	//         "tenant": "acme-corp",
	//         "issuer": "acme-corp Intermediate CA",
	//         "not_after": "2027-11-28T00:00:00Z"
	//       }
	//     }
	//   ]
	// }
}
