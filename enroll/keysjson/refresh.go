package keysjson

// SchemaRefresh names the shape of `keys refresh --json`.
const SchemaRefresh = "kiwistack.keys.refresh/v1"

// Refresh is the output of `keys refresh --json`: slot 9a's certificate
// before and after it was issued again for the same key.
type Refresh struct {
	Schema string `json:"schema"`
	Serial uint32 `json:"serial"`
	// PublicKeySHA256 is the hex SHA-256 of the slot 9a key's
	// SubjectPublicKeyInfo, the same before and after.
	PublicKeySHA256 string `json:"public_key_sha256"`
	// Old is the certificate slot 9a held before; absent when it held none.
	Old *Certificate `json:"old,omitempty"`
	// New is the certificate slot 9a holds now.
	New Certificate `json:"new"`
}

// Certificate is a slot 9a certificate: its holder, its issuer (by name
// and by key identifier, which tells a rotated intermediate of the same
// name apart) and its expiry.
type Certificate struct {
	Identity
	IssuerKeyID string `json:"issuer_key_id"`
}
