package api

import (
	"context"
	"crypto"
	"crypto/sha256"
	"crypto/subtle"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/kiwistack/endpoint/attest"
	"github.com/kiwistack/endpoint/enroll/protocol"
	"github.com/kiwistack/endpoint/server/ca"
	"github.com/kiwistack/endpoint/server/store"
)

// adminLifetimeMin is the shortest admin certificate the API asks for.
const adminLifetimeMin = time.Hour

// handleAdminCertificate issues an administrator's slot 9a certificate to
// the MSP holding the provisioning token, for a key whose YubiKey
// attestation verifies. Every outcome writes exactly one audit entry; a
// rejection writes nothing else.
func (s *Server) handleAdminCertificate(w http.ResponseWriter, r *http.Request) {
	var ai auditSubject
	resp, e := s.issueAdmin(r, &ai)
	if e != nil {
		s.auditRejected(r.Context(), protocol.OpIssueAdminCertificate, ai, e, "admin certificate")
		if e.status == http.StatusUnauthorized {
			w.Header().Set("WWW-Authenticate", `Bearer realm="kiwistack-provisioning"`)
		}
		s.fail(w, r, e)
		return
	}
	s.log.Info("admin certificate issued", "serial", ai.actor, "admin", resp.RosterEntry.Admin, "role", resp.RosterEntry.Role)
	writeJSON(w, http.StatusCreated, resp)
}

// checkProvisioningToken compares the bearer token's SHA-256 with the
// configured one in constant time.
func (s *Server) checkProvisioningToken(r *http.Request) *apiError {
	if len(s.cfg.ProvisioningTokenSHA256) == 0 {
		return reject(http.StatusForbidden, ReasonProvisioningDisabled,
			"this API issues no admin certificates: it has no provisioning token configured; ask the tenant's operator", nil)
	}
	scheme, token, ok := strings.Cut(r.Header.Get("Authorization"), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") || strings.TrimSpace(token) == "" {
		return reject(http.StatusUnauthorized, ReasonProvisioningTokenMissing,
			"send the MSP's provisioning token as Authorization: Bearer TOKEN (kiwistack-enroll --provisioning-token-file)", nil)
	}
	sum := sha256.Sum256([]byte(strings.TrimSpace(token)))
	if subtle.ConstantTimeCompare(sum[:], s.cfg.ProvisioningTokenSHA256) != 1 {
		return reject(http.StatusUnauthorized, ReasonProvisioningToken,
			"the provisioning token is not this tenant's; check --provisioning-token-file and the API URL", nil)
	}
	return nil
}

// issueAdmin runs the checks in the documented order and has the CA sign.
// It writes nothing unless every check passes.
func (s *Server) issueAdmin(r *http.Request, ai *auditSubject) (*protocol.AdminCertificateResponse, *apiError) {
	if e := s.checkProvisioningToken(r); e != nil {
		return nil, e
	}
	var req protocol.AdminCertificateRequest
	if e := s.readJSON(r, &req); e != nil {
		return nil, e
	}
	ai.actor = req.Serial
	if pol := s.currentPolicy(); !pol.HasRole(req.Role) {
		return nil, reject(http.StatusBadRequest, ReasonUnknownRole,
			fmt.Sprintf("the role %q is not one of this tenant's roles (%s)", req.Role, strings.Join(pol.Roles, ", ")), nil)
	}
	if err := protocol.ValidateAdminSubject(req.Admin, req.Role, s.cfg.Tenant); err != nil {
		return nil, reject(http.StatusBadRequest, ReasonBadSubject, "the admin name is not valid: "+err.Error(), err)
	}
	lifetime, _ := req.ParseLifetime() // Validate checked the format
	if lifetime != 0 && (lifetime < adminLifetimeMin || lifetime > ca.AdminMaxLifetime) {
		return nil, reject(http.StatusBadRequest, ReasonBadLifetime,
			fmt.Sprintf("an admin certificate's lifetime is between %s and %s; leave it out for the default", adminLifetimeMin, ca.AdminMaxLifetime), nil)
	}
	csr, e := parseAdminCSR(req.CSR)
	if e != nil {
		return nil, e
	}
	sum := sha256.Sum256(csr.RawSubjectPublicKeyInfo)
	ai.digest = hex.EncodeToString(sum[:])
	if err := csr.CheckSignature(); err != nil {
		return nil, reject(http.StatusBadRequest, ReasonCSRSignature,
			"the CSR's signature does not verify; sign it again with the slot 9a key", err)
	}
	if e := s.checkAttestation(&req, csr); e != nil {
		return nil, e
	}
	return s.signAdmin(r.Context(), ca.AdminRequest{CSR: csr, Serial: req.Serial, Admin: req.Admin, Role: req.Role, Lifetime: lifetime},
		protocol.OpIssueAdminCertificate, ai.digest)
}

// checkAttestation verifies the attestation chain and its facts: slot 9a,
// the requested serial, the CSR's key, PIN policy once or always, touch
// policy always.
func (s *Server) checkAttestation(req *protocol.AdminCertificateRequest, csr *x509.CertificateRequest) *apiError {
	f9, err := parsePEMCert(req.AttestationIntermediate)
	if err != nil {
		return reject(http.StatusBadRequest, ReasonBadAttestation,
			"the attestation intermediate (the YubiKey's f9 certificate) could not be parsed", err)
	}
	slot, err := parsePEMCert(req.Attestation)
	if err != nil {
		return reject(http.StatusBadRequest, ReasonBadAttestation, "the slot 9a attestation could not be parsed", err)
	}
	att, err := s.cfg.AttestationVerifier.Verify(f9, slot)
	switch {
	case errors.Is(err, attest.ErrChain):
		return reject(http.StatusForbidden, ReasonAttestationUntrusted,
			"the attestation does not chain to Yubico's roots: the key was not generated on a genuine YubiKey", err)
	case err != nil:
		return reject(http.StatusBadRequest, ReasonBadAttestation,
			"the attestation is not a YubiKey PIV attestation; send slot 9a's attestation and the f9 certificate", err)
	case att.Slot != "9a":
		return reject(http.StatusBadRequest, ReasonAttestationSlot,
			"the attestation is not for slot 9a; generate the key in slot 9a and attest that slot",
			fmt.Errorf("attested slot %q", att.Slot))
	case att.Serial != req.Serial:
		return reject(http.StatusBadRequest, ReasonAttestationSerial,
			"the attestation names another YubiKey serial than the request; provision the key you attested",
			fmt.Errorf("attested serial %d, requested %d", att.Serial, req.Serial))
	case !publicKeyEqual(att.PublicKey, csr.PublicKey):
		return reject(http.StatusBadRequest, ReasonAttestedKeyMismatch,
			"the attestation attests another key than the CSR's; send the CSR signed by the attested slot 9a key", nil)
	case (att.PINPolicy != "once" && att.PINPolicy != "always") || att.TouchPolicy != "always":
		return reject(http.StatusForbidden, ReasonAttestationPolicy,
			"the key's policies are too weak: generate it with PIN policy once (or always) and touch policy always",
			fmt.Errorf("pin policy %s, touch policy %s", att.PINPolicy, att.TouchPolicy))
	}
	return nil
}

// publicKeyEqual reports whether a and b are the same public key.
func publicKeyEqual(a, b any) bool {
	eq, ok := a.(interface{ Equal(crypto.PublicKey) bool })
	return ok && eq.Equal(b)
}

// parseAdminCSR parses a CSR that Validate found to be one PEM block.
func parseAdminCSR(text string) (*x509.CertificateRequest, *apiError) {
	b, _ := pem.Decode([]byte(text))
	if b == nil {
		return nil, reject(http.StatusBadRequest, ReasonBadCSR, "the CSR is not a PEM certificate request", nil)
	}
	csr, err := x509.ParseCertificateRequest(b.Bytes)
	if err != nil {
		return nil, reject(http.StatusBadRequest, ReasonBadCSR, "the CSR could not be parsed; sign it again with the slot 9a key", err)
	}
	return csr, nil
}

// parsePEMCert parses one PEM certificate.
func parsePEMCert(text string) (*x509.Certificate, error) {
	b, _ := pem.Decode([]byte(text))
	if b == nil {
		return nil, errors.New("no PEM block")
	}
	return x509.ParseCertificate(b.Bytes)
}

// signAdmin has the CA sign ar and appends the accepted audit entry of
// operation (issuance or reissue); a certificate whose issuance could not
// be recorded is revoked.
func (s *Server) signAdmin(ctx context.Context, ar ca.AdminRequest, operation, digest string) (*protocol.AdminCertificateResponse, *apiError) {
	leaf, chain, err := s.cfg.CA.SignAdmin(ctx, ar)
	if errors.Is(err, ca.ErrRefused) {
		return nil, reject(http.StatusBadRequest, ReasonCARefused, "the certificate authority refused the request", err)
	}
	if err != nil {
		return nil, reject(http.StatusBadGateway, ReasonCAUnavailable,
			"the certificate authority did not issue the certificate; try again, and report it if it persists", err)
	}
	if len(chain) == 0 {
		return nil, reject(http.StatusBadGateway, ReasonCAUnavailable,
			"the certificate authority returned no chain; report this to the tenant's operator", errors.New("empty chain from ca"))
	}
	if _, err := s.cfg.Store.AppendAudit(ctx, store.AuditRecord{Time: s.cfg.Now(), Actor: ar.Serial,
		Operation: operation, ParamsDigest: digest, Result: resultAccepted}); err != nil {
		if rerr := s.cfg.CA.Revoke(ctx, leaf.SerialNumber.String(), "issuance not recorded"); rerr != nil {
			s.log.Error("admin certificate issued but not recorded, and revoking it failed", "operation", operation,
				"serial", ar.Serial, "cert_serial", leaf.SerialNumber.String(), "err", err, "revoke_err", rerr)
		}
		return nil, reject(http.StatusInternalServerError, ReasonInternal, "the issuance could not be recorded; try again later", err)
	}
	encode := func(c *x509.Certificate) string {
		return string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Raw}))
	}
	resp := &protocol.AdminCertificateResponse{
		Certificate: encode(leaf),
		Chain:       []string{},
		Root:        encode(chain[len(chain)-1]),
		RosterEntry: protocol.AdminRosterEntry{Serial: ar.Serial, Admin: ar.Admin, Role: ar.Role,
			PublicKeySHA256: digest, NotAfter: protocol.FormatTimestamp(leaf.NotAfter)},
	}
	for _, c := range chain[:len(chain)-1] {
		resp.Chain = append(resp.Chain, encode(c))
	}
	return resp, nil
}
