package api

import (
	"encoding/json"
	"net/http"
	"slices"

	"github.com/kiwistack/endpoint/enroll/protocol"
)

// Reason codes of the API beyond those of protocol.Reason; docs/api.md lists
// them all with their statuses. They are stable: clients, metrics and the
// audit log rely on them.
const (
	ReasonMediaType         = "unsupported_media_type"
	ReasonBodyTooLarge      = "body_too_large"
	ReasonCertExpired       = "certificate_expired"
	ReasonWrongOrganization = "wrong_organization"
	ReasonTenantMismatch    = "tenant_mismatch"
	ReasonWrongOperation    = "wrong_operation"
	ReasonUnknownKey        = "unknown_key"
	ReasonKeyBurned         = "key_burned"
	ReasonKeyMismatch       = "key_mismatch"
	ReasonRoleInsufficient  = "role_insufficient"
	ReasonTimestamp         = "timestamp_out_of_window"
	ReasonNonceUnknown      = "nonce_unknown"
	ReasonNonceExpired      = "nonce_expired"
	ReasonNonceUsed         = "nonce_used"
	ReasonNonceMismatch     = "nonce_mismatch"
	ReasonBadCSR            = "bad_csr"
	ReasonCSRSignature      = "bad_csr_signature"
	ReasonDeviceKeyMismatch = "device_key_mismatch"
	ReasonCSRWireGuard      = "csr_wireguard_mismatch"
	ReasonDeviceExists      = "device_exists"
	ReasonDeviceConflict    = "device_conflict"
	ReasonUnknownOperation  = "unknown_operation"
	ReasonCARefused         = "ca_refused"
	ReasonCAUnavailable     = "ca_unavailable"
	ReasonNotReady          = "not_ready"
	ReasonInternal          = protocol.ReasonUnknown
)

// Reason codes of POST /v1/admin-certificates.
const (
	ReasonProvisioningDisabled     = "provisioning_disabled"
	ReasonProvisioningTokenMissing = "provisioning_token_missing"
	ReasonProvisioningToken        = "bad_provisioning_token"
	ReasonUnknownRole              = "unknown_role"
	ReasonBadSubject               = "bad_subject"
	ReasonBadLifetime              = "bad_lifetime"
	ReasonBadAttestation           = "bad_attestation"
	ReasonAttestationUntrusted     = "attestation_untrusted"
	ReasonAttestationSlot          = "attestation_wrong_slot"
	ReasonAttestationSerial        = "attestation_serial_mismatch"
	ReasonAttestationPolicy        = "attestation_policy"
	ReasonAttestedKeyMismatch      = "attested_key_mismatch"
)

// Reason codes of POST /v1/claims (an OEM laptop's first-boot claim).
const (
	ReasonTokenUnknown   = "bootstrap_token_unknown"
	ReasonTokenUsed      = "bootstrap_token_used"
	ReasonTokenRevoked   = "bootstrap_token_revoked"
	ReasonTokenExpired   = "bootstrap_token_expired"
	ReasonSerialMismatch = "hardware_serial_mismatch"
	ReasonRateLimited    = "rate_limited"
)

// Reasons returns every reason code the API answers with, those of
// protocol.Reason included, in the order of docs/api.md's table. The
// OpenAPI document's Reason enum is this list; a test keeps both true.
func Reasons() []string {
	return append([]string{
		ReasonMediaType, ReasonBodyTooLarge, protocol.ReasonMalformed, protocol.ReasonAlgorithm,
		protocol.ReasonSignature, protocol.ReasonChain, ReasonCertExpired, protocol.ReasonStatement,
		ReasonWrongOrganization, ReasonUnknownKey, ReasonKeyBurned, ReasonKeyMismatch, ReasonRoleInsufficient,
		ReasonTenantMismatch, ReasonWrongOperation, ReasonTimestamp, ReasonNonceUnknown, ReasonNonceExpired,
		ReasonNonceUsed, ReasonNonceMismatch, ReasonBadCSR, ReasonCSRSignature, ReasonDeviceKeyMismatch, ReasonCSRWireGuard,
		ReasonDeviceExists, ReasonDeviceConflict, ReasonCARefused, ReasonCAUnavailable,
		ReasonUnknownOperation, ReasonNotReady, ReasonInternal,
		ReasonProvisioningDisabled, ReasonProvisioningTokenMissing, ReasonProvisioningToken, ReasonUnknownRole,
		ReasonBadSubject, ReasonBadLifetime, ReasonBadAttestation, ReasonAttestationUntrusted, ReasonAttestationSlot,
		ReasonAttestationSerial, ReasonAttestationPolicy, ReasonAttestedKeyMismatch,
		ReasonTokenUnknown, ReasonTokenUsed, ReasonTokenRevoked, ReasonTokenExpired, ReasonSerialMismatch, ReasonRateLimited,
		ReasonDeviceInactive,                            // the device check-in (deviceconfig.go)
		ReasonDeviceCertExpiring,                        // app certificates (appcert.go)
		ReasonUnknownCommand, ReasonCommandAcknowledged, // device commands (commands.go)
		ReasonNoEscrow, ReasonEscrowUnreadable, ReasonNotReleased, // disk escrow (escrow.go)
		ReasonIntermediateRetired, ReasonReissueRefused, // intermediate rotation (rotate.go)
		ReasonReadGrantMissing, ReasonReadGrantInvalid, ReasonReadGrantExpired, // signature-gated reads (reads.go)
		// The operations API's come last (operations.go).
	}, operationReasons()...)
}

// EnrollmentReasons returns the reason codes a rejected enrollment can
// (or claim) can carry: Reasons less those only challenges, /readyz and
// admin certificates answer with. Metrics start each of them at 0.
func EnrollmentReasons() []string {
	others := []string{
		ReasonUnknownOperation, ReasonNotReady,
		ReasonProvisioningDisabled, ReasonProvisioningTokenMissing, ReasonProvisioningToken, ReasonUnknownRole,
		ReasonBadSubject, ReasonBadLifetime, ReasonBadAttestation, ReasonAttestationUntrusted, ReasonAttestationSlot,
		ReasonAttestationSerial, ReasonAttestationPolicy, ReasonAttestedKeyMismatch, ReasonDeviceInactive,
		ReasonUnknownCommand, ReasonCommandAcknowledged, ReasonDeviceCertExpiring,
		ReasonNoEscrow, ReasonEscrowUnreadable, ReasonNotReleased,
		ReasonIntermediateRetired, ReasonReissueRefused,
		ReasonReadGrantMissing, ReasonReadGrantInvalid, ReasonReadGrantExpired,
	}
	var rs []string
	for _, r := range Reasons() {
		if !slices.Contains(others, r) && !slices.Contains(operationReasons(), r) {
			rs = append(rs, r)
		}
	}
	return rs
}

// Audit results, the media type of every request and response, and the
// audit operation of enrollments.
const (
	resultRejected           = "rejected"
	resultAccepted           = "accepted"
	contentTypeJSON          = "application/json"
	auditOperationEnrollment = protocol.OpEnrollDevice
	// auditReasonReenrolled is the reason of an accepted enrollment that
	// replaced an earlier device record (a re-enrollment).
	auditReasonReenrolled = "reenrolled"
)

// apiError keeps apart what the client sees (status, reason, message) and
// what only the log sees (cause).
type apiError struct {
	status  int
	reason  string
	message string
	cause   error
}

// Error implements error with the reason and the hidden cause, for logs.
func (e *apiError) Error() string {
	if e.cause == nil {
		return e.reason + ": " + e.message
	}
	return e.reason + ": " + e.cause.Error()
}

// Unwrap returns the cause.
func (e *apiError) Unwrap() error { return e.cause }

// reject builds an apiError.
func reject(status int, reason, message string, cause error) *apiError {
	return &apiError{status: status, reason: reason, message: message, cause: cause}
}

// writeJSON writes v with status.
func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", contentTypeJSON)
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// writeError writes e's status and its public part.
func writeError(w http.ResponseWriter, e *apiError) {
	writeJSON(w, e.status, protocol.ErrorResponse{Reason: e.reason, Message: e.message})
}
