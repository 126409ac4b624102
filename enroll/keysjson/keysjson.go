// Package keysjson is the versioned --json output of `kiwistack-enroll keys`:
// scripts depend on it, so fields are only ever added, and a breaking change
// gets a new schema name. It holds types only, no logic.
package keysjson

// SchemaList names the shape of `keys list --json`.
const SchemaList = "kiwistack.keys.list/v1"

// SchemaInfo names the shape of `keys info --json`.
const SchemaInfo = "kiwistack.keys.info/v1"

// SchemaAttestation names the shape of `keys verify-attestation --json`.
const SchemaAttestation = "kiwistack.keys.attestation/v1"

// List is the output of `keys list --json`.
type List struct {
	Schema  string    `json:"schema"`
	Keys    []Key     `json:"keys"`
	Skipped []Skipped `json:"skipped,omitempty"`
}

// Key is one YubiKey.
type Key struct {
	Serial     uint32    `json:"serial"`
	Firmware   string    `json:"firmware"`
	Reader     string    `json:"reader"`
	FormFactor string    `json:"form_factor,omitempty"`
	PINRetries int       `json:"pin_retries"`
	Slot9a     *Identity `json:"slot_9a,omitempty"`
}

// Identity is the holder named by the slot 9a certificate.
type Identity struct {
	Admin    string `json:"admin"`
	Role     string `json:"role"`
	Tenant   string `json:"tenant"`
	Issuer   string `json:"issuer"`
	NotAfter string `json:"not_after"`
}

// Skipped is a reader without a usable YubiKey.
type Skipped struct {
	Reader string `json:"reader"`
	Reason string `json:"reason"`
}

// Info is the output of `keys info SERIAL --json`.
type Info struct {
	Schema string `json:"schema"`
	Key
	Attestation *Attestation `json:"attestation,omitempty"`
}

// Attestation is a verified attestation.
type Attestation struct {
	Schema      string `json:"schema,omitempty"`
	Verified    bool   `json:"verified"`
	Error       string `json:"error,omitempty"`
	Serial      uint32 `json:"serial"`
	Firmware    string `json:"firmware"`
	FormFactor  string `json:"form_factor,omitempty"`
	PINPolicy   string `json:"pin_policy"`
	TouchPolicy string `json:"touch_policy"`
	Slot        string `json:"slot"`
	Root        string `json:"root"`
	// PublicKeySHA256 is the hex SHA-256 of the attested SubjectPublicKeyInfo.
	PublicKeySHA256 string `json:"public_key_sha256"`
}
