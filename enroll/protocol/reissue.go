package protocol

import "fmt"

// OpReissueAdminCertificate is the audit operation of POST
// /v1/admin-certificates/reissue.
const OpReissueAdminCertificate = "reissue_admin_certificate"

// AdminReissueRequest asks the API to issue a new slot 9a certificate, under
// the tenant's current intermediate, for a key the roster already pins to a
// YubiKey (POST /v1/admin-certificates/reissue; after rotate_intermediate,
// `kiwistack-enroll keys refresh` sends it). No token authenticates it: the
// attestation proves the key lives in slot 9a of YubiKey Serial, the CSR's
// signature that the sender holds it, and the roster says whose it is. The
// subject (CN admin, OU role, O tenant) comes from the roster, never from
// the request; Validate checks only the format.
type AdminReissueRequest struct {
	// Serial is the YubiKey's serial number, as the roster knows it.
	Serial uint32 `json:"serial"`
	// CSR is a PKCS #10 request signed by the slot 9a key, one PEM block;
	// its subject is ignored.
	CSR string `json:"csr"`
	// Attestation is slot 9a's attestation certificate, one PEM block.
	Attestation string `json:"attestation"`
	// AttestationIntermediate is the YubiKey's f9 certificate, one PEM block.
	AttestationIntermediate string `json:"attestation_intermediate"`
}

// Validate checks the request's format; errors wrap ErrMalformed.
func (r *AdminReissueRequest) Validate() error {
	if r.Serial == 0 {
		return fmt.Errorf("%w: serial missing", ErrMalformed)
	}
	for _, f := range []struct{ name, text, typ string }{
		{"csr", r.CSR, "CERTIFICATE REQUEST"},
		{"attestation", r.Attestation, "CERTIFICATE"},
		{"attestation_intermediate", r.AttestationIntermediate, "CERTIFICATE"},
	} {
		if err := onePEM(f.text, f.typ); err != nil {
			return fmt.Errorf("%w: %s: %w", ErrMalformed, f.name, err)
		}
	}
	return nil
}
