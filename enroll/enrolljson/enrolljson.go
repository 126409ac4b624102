// Package enrolljson is the versioned --json output of `kiwistack-enroll
// enroll`: scripts and the installers depend on it, so fields are only ever
// added, and a breaking change gets a new schema name. It holds types only.
package enrolljson

// Schema names the shape of `enroll --json`.
const Schema = "kiwistack.enroll/v1"

// Result is the output of a successful `enroll --json`.
type Result struct {
	Schema             string      `json:"schema"`
	DeviceID           string      `json:"device_id"`
	Tenant             string      `json:"tenant"`
	WireGuardPublicKey string      `json:"wireguard_public_key"`
	Certificate        Certificate `json:"certificate"`
	Files              Files       `json:"files"`
	Steps              []Step      `json:"steps"`
	TotalMillis        float64     `json:"total_ms"`
}

// Certificate describes the installed device certificate.
type Certificate struct {
	Subject   string `json:"subject"`
	Serial    string `json:"serial"`
	Issuer    string `json:"issuer"`
	NotBefore string `json:"not_before"`
	NotAfter  string `json:"not_after"`
}

// Files are the paths written.
type Files struct {
	Certificate string `json:"certificate"`
	Key         string `json:"key"`
	Root        string `json:"root"`
	StepConfig  string `json:"step_config"`
	Enrollment  string `json:"enrollment"`
}

// Step is one of the seven steps of the ceremony with its duration.
type Step struct {
	Number int     `json:"step"`
	Title  string  `json:"title"`
	Detail string  `json:"detail"`
	Millis float64 `json:"ms"`
}
