package api

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"math/big"
	"mime"
	"net/http"
	"slices"
	"time"

	"github.com/kiwistack/endpoint/enroll/protocol"
	"github.com/kiwistack/endpoint/server/ca"
	"github.com/kiwistack/endpoint/server/store"
)

// readJSON checks the content type and size of r's body and decodes it
// strictly into v (a protocol wire type, validated).
func (s *Server) readJSON(r *http.Request, v any) *apiError {
	return s.readJSONLimit(r, v, s.cfg.MaxBody)
}

// readJSONLimit is readJSON with a body limit of its own.
func (s *Server) readJSONLimit(r *http.Request, v any, limit int64) *apiError {
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || mt != contentTypeJSON {
		return reject(http.StatusUnsupportedMediaType, ReasonMediaType,
			"send the request body as JSON with Content-Type: application/json", err)
	}
	data, err := io.ReadAll(io.LimitReader(r.Body, limit+1))
	if err != nil {
		return reject(http.StatusBadRequest, protocol.ReasonMalformed, "the request body could not be read; send it again", err)
	}
	if int64(len(data)) > limit {
		return reject(http.StatusRequestEntityTooLarge, ReasonBodyTooLarge,
			fmt.Sprintf("the request body is larger than %d bytes; send only the documented fields and one CSR", limit), nil)
	}
	if err := protocol.DecodeJSON(bytes.NewReader(data), limit, v); err != nil {
		return reject(http.StatusBadRequest, protocol.ReasonMalformed,
			"the request is not valid: send exactly the documented JSON fields, each once", err)
	}
	return nil
}

// handleChallenge issues a challenge: a fresh nonce bound to the digest of
// the canonical operation, stored for ChallengeLifetime.
func (s *Server) handleChallenge(w http.ResponseWriter, r *http.Request) {
	var req protocol.ChallengeRequest
	if e := s.readJSON(r, &req); e != nil {
		s.fail(w, r, e)
		return
	}
	if req.Tenant != s.cfg.Tenant {
		s.fail(w, r, reject(http.StatusForbidden, ReasonTenantMismatch,
			"this API serves another tenant; check the tenant slug and the API URL", nil))
		return
	}
	if req.Operation != protocol.OpEnrollDevice {
		s.fail(w, r, reject(http.StatusBadRequest, ReasonUnknownOperation,
			"this API only issues challenges for enroll_device for now", nil))
		return
	}
	b := make([]byte, nonceBytes)
	_, _ = rand.Read(b) // crypto/rand.Read never fails
	nonce := base64.RawURLEncoding.EncodeToString(b)
	op := protocol.Operation{ID: req.Operation, Tenant: req.Tenant, Nonce: nonce, Params: req.Params}
	digest, err := op.Digest()
	if err != nil {
		s.fail(w, r, reject(http.StatusBadRequest, protocol.ReasonMalformed, "the operation's parameters are not valid", err))
		return
	}
	now := s.cfg.Now().UTC()
	exp := now.Add(ChallengeLifetime).Truncate(time.Second)
	if err := s.cfg.Store.IssueNonce(r.Context(), store.Nonce{Value: nonce, Operation: op.ID, Digest: digest,
		CreatedAt: now, ExpiresAt: exp}); err != nil {
		s.fail(w, r, reject(http.StatusInternalServerError, ReasonInternal, "the challenge could not be stored; try again later", err))
		return
	}
	s.cfg.Metrics.ChallengeIssued()
	writeJSON(w, http.StatusCreated, protocol.Challenge{
		Operation:     op.ID,
		Tenant:        op.Tenant,
		Nonce:         nonce,
		Digest:        digest,
		RequiredRoles: []string{s.enrollRole()},
		ExpiresAt:     protocol.FormatTimestamp(exp),
	})
}

// fail logs e's cause and writes e.
func (s *Server) fail(w http.ResponseWriter, r *http.Request, e *apiError) {
	lvl := s.log.Info
	if e.status >= 500 {
		lvl = s.log.Error
	}
	lvl("request rejected", "method", r.Method, "path", r.URL.Path, "status", e.status, "reason", e.reason, "cause", e.Error())
	writeError(w, e)
}

// auditSubject is what the checks learn about one request, for its audit
// entry: the YubiKey serial of the actor and the digest of the parameters.
type auditSubject struct {
	actor  uint32
	digest string
}

// auditRejected appends the audit entry of a request for op rejected with
// e; what names the request in the log line when the entry cannot be
// written.
func (s *Server) auditRejected(ctx context.Context, op string, sub auditSubject, e *apiError, what string) {
	if _, err := s.cfg.Store.AppendAudit(ctx, store.AuditRecord{
		Time: s.cfg.Now(), Actor: sub.actor, Operation: op,
		ParamsDigest: sub.digest, Result: resultRejected, Reason: e.reason,
	}); err != nil {
		s.log.Error("appending audit entry for a rejected "+what, "reason", e.reason, "err", err)
	}
}

// handleEnroll runs the checks of an enrollment and, when all pass, issues
// the device certificate. Every outcome writes exactly one audit entry.
func (s *Server) handleEnroll(w http.ResponseWriter, r *http.Request) {
	var en auditSubject
	resp, e := s.enroll(r, &en)
	if e != nil {
		s.auditRejected(r.Context(), auditOperationEnrollment, en, e, "enrollment")
		s.cfg.Metrics.EnrollmentRejected(e.reason)
		s.fail(w, r, e)
		return
	}
	s.cfg.Metrics.EnrollmentAccepted()
	s.log.Info("device enrolled", "device", resp.DeviceID, "by", en.actor)
	writeJSON(w, http.StatusCreated, resp)
}

// enroll checks the request in the documented order and completes the
// enrollment. It writes nothing unless every check passes.
func (s *Server) enroll(r *http.Request, en *auditSubject) (*protocol.EnrollResponse, *apiError) {
	ctx := r.Context()
	var req protocol.EnrollRequest
	if e := s.readJSON(r, &req); e != nil {
		return nil, e
	}
	now := s.cfg.Now()
	signed, err := protocol.Parse(req.Statement)
	if err != nil {
		return nil, protocolError(err)
	}
	sg, e := s.verifySigner(ctx, signed, now, false)
	if e != nil {
		return nil, e
	}
	stmt, leaf := sg.stmt, sg.leaf
	en.actor, en.digest = stmt.YubiKeySerial, stmt.Digest
	if e := s.checkSigner(ctx, stmt, leaf); e != nil {
		return nil, e
	}
	if e := s.checkStatement(ctx, stmt, now); e != nil {
		return nil, e
	}
	csr, e := s.checkCSR(req.CSR, stmt)
	if e != nil {
		return nil, e
	}
	old, e := s.checkDevice(ctx, stmt.HardwareFingerprint, now)
	if e != nil {
		return nil, e
	}
	return s.complete(ctx, grant{
		fingerprint: stmt.HardwareFingerprint, deviceKeySHA256: stmt.DeviceKeySHA256, wireGuardKey: stmt.WireGuardPublicKey,
		enrolledBy: stmt.YubiKeySerial, operation: auditOperationEnrollment, digest: stmt.Digest,
		record: func(ctx context.Context, d store.Device, rec store.AuditRecord) error {
			_, _, err := s.cfg.Store.CompleteEnrollment(ctx, stmt.Nonce, now, d, rec)
			return err
		},
	}, csr, old, now)
}

// grant is what authorises a new device record, whichever way it came: an
// administrator's signed statement (enrollment) or a bootstrap token (OEM
// claim).
type grant struct {
	// fingerprint, deviceKeySHA256 and wireGuardKey describe the laptop.
	fingerprint, deviceKeySHA256, wireGuardKey string
	// enrolledBy is the signing YubiKey's serial, 0 for a claim;
	// claimedWith the bootstrap token's id, "" for an enrollment.
	enrolledBy  uint32
	claimedWith string
	// operation and digest go into the accepted audit entry.
	operation, digest string
	// record consumes what authorised the device (the nonce, the token),
	// creates d and appends rec in one transaction.
	record func(ctx context.Context, d store.Device, rec store.AuditRecord) error
}

// protocolError maps an error of protocol.Parse or Verify to an apiError.
func protocolError(err error) *apiError {
	var inv x509.CertificateInvalidError
	switch {
	case errors.Is(err, protocol.ErrChain) && errors.As(err, &inv) && inv.Reason == x509.Expired:
		return reject(http.StatusForbidden, ReasonCertExpired,
			"the administrator's certificate is expired or not yet valid; renew it (kiwistack-enroll keys provision) and sign again", err)
	case errors.Is(err, protocol.ErrChain):
		return reject(http.StatusForbidden, protocol.ReasonChain,
			"the signing certificate is not issued by this tenant's CA; use a YubiKey provisioned for this tenant", err)
	case errors.Is(err, protocol.ErrSignature):
		return reject(http.StatusUnauthorized, protocol.ReasonSignature,
			"the statement's signature does not verify; sign the challenge again with the key of the certificate you send", err)
	case errors.Is(err, protocol.ErrAlgorithm):
		return reject(http.StatusBadRequest, protocol.ReasonAlgorithm,
			"the statement must be signed with ES256 or ES384 by an ECDSA slot 9a key", err)
	case errors.Is(err, protocol.ErrStatement):
		return reject(http.StatusBadRequest, protocol.ReasonStatement,
			"the signed statement is incomplete or its digest does not match its content; request a new challenge", err)
	}
	return reject(http.StatusBadRequest, protocol.ReasonMalformed,
		"the statement is not a well-formed signed statement; request a new challenge and sign it again", err)
}

// checkSigner checks the signer certificate against the roster and policy:
// O is the tenant, the serial is in the roster and not burned, the key is the
// one registered for it, and the role (OU) meets the policy.
func (s *Server) checkSigner(ctx context.Context, stmt *protocol.Statement, leaf *x509.Certificate) *apiError {
	if o := leaf.Subject.Organization; len(o) != 1 || o[0] != s.cfg.Tenant {
		return reject(http.StatusForbidden, ReasonWrongOrganization,
			"the administrator's certificate names another organization; use a YubiKey provisioned for this tenant",
			fmt.Errorf("certificate organization %q, want %q", o, s.cfg.Tenant))
	}
	entry, err := s.cfg.Store.RosterEntry(ctx, stmt.YubiKeySerial)
	if errors.Is(err, store.ErrNotFound) {
		return reject(http.StatusForbidden, ReasonUnknownKey,
			"this YubiKey is not in the tenant's roster; ask an administrator to add it", err)
	}
	if err != nil {
		return reject(http.StatusInternalServerError, ReasonInternal, "the roster could not be read; try again later", err)
	}
	if entry.Burned {
		return reject(http.StatusForbidden, ReasonKeyBurned,
			"this YubiKey was declared lost and can no longer sign; use another administrator's key", nil)
	}
	sum := sha256.Sum256(leaf.RawSubjectPublicKeyInfo)
	if subtle.ConstantTimeCompare([]byte(hex.EncodeToString(sum[:])), []byte(entry.SPKISHA256)) != 1 {
		return reject(http.StatusForbidden, ReasonKeyMismatch,
			"the signing key is not the one registered for this YubiKey serial; sign with the registered key",
			fmt.Errorf("spki sha256 %x, roster has %s for serial %d", sum, entry.SPKISHA256, stmt.YubiKeySerial))
	}
	role := ""
	if ou := leaf.Subject.OrganizationalUnit; len(ou) == 1 {
		role = ou[0]
	}
	pol := s.currentPolicy()
	need, _ := pol.SingleSigner(protocol.OpEnrollDevice) // New and policy_change refuse any other policy
	if !pol.RoleMeets(role, need) {
		return reject(http.StatusForbidden, ReasonRoleInsufficient,
			fmt.Sprintf("enrolling a device needs the role %s or higher; ask such an administrator to sign", need),
			fmt.Errorf("signer role %q (OU %q)", role, leaf.Subject.OrganizationalUnit))
	}
	return nil
}

// checkStatement checks the statement's operation, tenant, timestamp and
// nonce. The nonce is only looked up here; CompleteEnrollment consumes it.
func (s *Server) checkStatement(ctx context.Context, stmt *protocol.Statement, now time.Time) *apiError {
	if stmt.Tenant != s.cfg.Tenant {
		return reject(http.StatusForbidden, ReasonTenantMismatch,
			"the statement names another tenant; check the tenant slug and the API URL",
			fmt.Errorf("statement tenant %q, want %q", stmt.Tenant, s.cfg.Tenant))
	}
	if stmt.Operation != protocol.OpEnrollDevice {
		return reject(http.StatusBadRequest, ReasonWrongOperation,
			"the statement is not an enroll_device statement; request an enroll_device challenge",
			fmt.Errorf("operation %q", stmt.Operation))
	}
	ts, err := stmt.Time()
	if err != nil {
		return reject(http.StatusBadRequest, protocol.ReasonStatement, "the statement's timestamp is not valid", err)
	}
	if d := ts.Sub(now); d > ClockSkew || d < -ClockSkew {
		return reject(http.StatusUnauthorized, ReasonTimestamp,
			"the statement's time is more than 5 minutes from the server's; check the laptop's clock and sign again",
			fmt.Errorf("timestamp %s is %s from now", stmt.Timestamp, d))
	}
	n, err := s.cfg.Store.LookupNonce(ctx, stmt.Nonce)
	switch {
	case errors.Is(err, store.ErrNotFound):
		return reject(http.StatusUnauthorized, ReasonNonceUnknown,
			"the nonce was not issued by this server; request a new challenge from this API", err)
	case err != nil:
		return reject(http.StatusInternalServerError, ReasonInternal, "the challenge could not be read; try again later", err)
	case !n.UsedAt.IsZero():
		return reject(http.StatusConflict, ReasonNonceUsed,
			"this challenge was already used; request a new challenge", nil)
	case !now.Before(n.ExpiresAt):
		return reject(http.StatusUnauthorized, ReasonNonceExpired,
			"the challenge expired; request a new challenge and sign within 5 minutes", nil)
	case n.Operation != stmt.Operation || subtle.ConstantTimeCompare([]byte(n.Digest), []byte(stmt.Digest)) != 1:
		return reject(http.StatusUnauthorized, ReasonNonceMismatch,
			"the statement does not sign the operation this challenge was issued for; request a new challenge with the same parameters",
			fmt.Errorf("nonce issued for %s digest %s, statement has %s digest %s", n.Operation, n.Digest, stmt.Operation, stmt.Digest))
	}
	return nil
}

// checkCSR parses the CSR, checks its self-signature and that its key is the
// one the statement names.
func (s *Server) checkCSR(pemText string, stmt *protocol.Statement) (*x509.CertificateRequest, *apiError) {
	csr, e := parseCSR(pemText)
	if e != nil {
		return nil, e
	}
	if got := protocol.DeviceKeyHash(csr.RawSubjectPublicKeyInfo); got != stmt.DeviceKeySHA256 {
		return nil, reject(http.StatusBadRequest, ReasonDeviceKeyMismatch,
			"the CSR's key is not the device key the statement names; send the CSR of the signed device key",
			fmt.Errorf("csr key %s, statement %s", got, stmt.DeviceKeySHA256))
	}
	if e := s.checkCSRNames(csr, stmt.WireGuardPublicKey); e != nil {
		return nil, e
	}
	return csr, nil
}

// parseCSR parses the CSR and checks its self-signature.
func parseCSR(pemText string) (*x509.CertificateRequest, *apiError) {
	b, _ := pem.Decode([]byte(pemText)) // the request's Validate checked the block
	if b == nil {
		return nil, reject(http.StatusBadRequest, ReasonBadCSR, "the CSR is not a PEM certificate request; generate it again", nil)
	}
	csr, err := x509.ParseCertificateRequest(b.Bytes)
	if err != nil {
		return nil, reject(http.StatusBadRequest, ReasonBadCSR, "the CSR could not be parsed; generate it again", err)
	}
	if err := csr.CheckSignature(); err != nil {
		return nil, reject(http.StatusBadRequest, ReasonCSRSignature,
			"the CSR's signature does not verify; generate it again with the device key", err)
	}
	return csr, nil
}

// checkCSRNames checks the CSR's names: no DNS name, IP or e-mail address,
// and exactly two URIs, the device's (protocol.DeviceURI of this tenant and
// the id derived from the CSR's key) and the SAN of the WireGuard key wgKey
// (protocol.WireGuardURI). step-ca issues exactly these names, which binds
// the WireGuard key into the certificate.
func (s *Server) checkCSRNames(csr *x509.CertificateRequest, wgKey string) *apiError {
	wgURI, err := protocol.WireGuardURI(wgKey)
	if err != nil {
		return reject(http.StatusBadRequest, protocol.ReasonMalformed, "the WireGuard public key is not 32 bytes of base64", err)
	}
	deviceURI := protocol.DeviceURI(s.cfg.Tenant, protocol.DeviceID(protocol.DeviceKeyHash(csr.RawSubjectPublicKeyInfo))).String()
	got := make([]string, len(csr.URIs))
	for i, u := range csr.URIs {
		got[i] = u.String()
	}
	slices.Sort(got)
	want := []string{deviceURI, wgURI}
	slices.Sort(want)
	if !slices.Equal(got, want) || len(csr.DNSNames)+len(csr.IPAddresses)+len(csr.EmailAddresses) != 0 {
		return reject(http.StatusBadRequest, ReasonCSRWireGuard,
			"the CSR must name exactly the device's URI and its WireGuard key's URI ("+protocol.WireGuardURIPrefix+"…) and nothing else; generate it again",
			fmt.Errorf("csr URIs %v, DNS %v, IPs %v, emails %v; want %v", got, csr.DNSNames, csr.IPAddresses, csr.EmailAddresses, want))
	}
	return nil
}

// checkDevice refuses a known hardware fingerprint unless an administrator
// allowed its re-enrollment: it returns nil for a new laptop, and the device
// record to replace when an unexpired allowance names that record.
func (s *Server) checkDevice(ctx context.Context, fingerprint string, now time.Time) (*store.Device, *apiError) {
	old, err := s.cfg.Store.DeviceByFingerprint(ctx, fingerprint)
	switch {
	case errors.Is(err, store.ErrNotFound):
		return nil, nil
	case err != nil:
		return nil, reject(http.StatusInternalServerError, ReasonInternal, "the device list could not be read; try again later", err)
	}
	allowance, err := s.cfg.Store.Reenrollment(ctx, fingerprint)
	switch {
	case errors.Is(err, store.ErrNotFound):
		return nil, deviceExists(fmt.Errorf("device %s: no re-enrollment allowance", old.ID))
	case err != nil:
		return nil, reject(http.StatusInternalServerError, ReasonInternal, "the re-enrollment allowances could not be read; try again later", err)
	case allowance.DeviceID != old.ID:
		return nil, deviceExists(fmt.Errorf("device %s: the allowance is for %s", old.ID, allowance.DeviceID))
	case !now.Before(allowance.ExpiresAt):
		return nil, deviceExists(fmt.Errorf("device %s: the allowance expired at %s", old.ID, allowance.ExpiresAt.Format(time.RFC3339)))
	}
	return &old, nil
}

// deviceExists is the rejection of a known laptop without a usable
// re-enrollment allowance.
func deviceExists(cause error) *apiError {
	return reject(http.StatusConflict, ReasonDeviceExists,
		"this laptop is already enrolled; ask an administrator to allow its re-enrollment "+
			"(kiwistack-api devices allow-reenroll --state DIR DEVICE-ID), then enroll again within the allowed time", cause)
}

// complete has the CA sign the CSR, then consumes the nonce or the
// bootstrap token, records the device and appends the audit entry in one
// transaction (g.record). The device id is derived from the device key
// (protocol.DeviceID). When old is set the enrollment is a re-enrollment:
// the transaction also consumes the allowance and marks old replaced, and
// old's certificates are revoked afterwards.
func (s *Server) complete(ctx context.Context, g grant, csr *x509.CertificateRequest, old *store.Device, now time.Time) (*protocol.EnrollResponse, *apiError) {
	deviceID := protocol.DeviceID(g.deviceKeySHA256)
	leaf, chain, err := s.cfg.CA.Sign(ctx, csr, deviceID, s.deviceLifetime())
	if errors.Is(err, ca.ErrRefused) {
		return nil, reject(http.StatusBadRequest, ReasonCARefused,
			"the certificate authority refused the CSR; generate a CSR without names for the device key", err)
	}
	if err != nil {
		return nil, reject(http.StatusBadGateway, ReasonCAUnavailable,
			"the certificate authority did not issue the certificate; try again, and report it if it persists", err)
	}
	if len(chain) == 0 {
		return nil, reject(http.StatusBadGateway, ReasonCAUnavailable,
			"the certificate authority returned no chain; report this to the tenant's operator", errors.New("empty chain from ca"))
	}
	dev := store.Device{
		ID: deviceID, Tenant: s.cfg.Tenant, HardwareFingerprint: g.fingerprint,
		WireGuardPublicKey: g.wireGuardKey, Status: store.StatusActive, EnrolledBy: g.enrolledBy, ClaimedWith: g.claimedWith,
		Certificates: []store.DeviceCertificate{{Serial: hex.EncodeToString(leaf.SerialNumber.Bytes()), NotAfter: leaf.NotAfter, IssuedAt: now,
			Issuer: ca.Fingerprint(chain[0])}},
	}
	rec := store.AuditRecord{Time: now, Actor: g.enrolledBy, Operation: g.operation,
		ParamsDigest: g.digest, Result: resultAccepted}
	if old != nil {
		dev.Replaces, rec.Reason = old.ID, auditReasonReenrolled
	}
	if err := g.record(ctx, dev, rec); err != nil {
		// The certificate was issued but the enrollment is not recorded: revoke
		// it so that it can never be renewed; it then dies within 24 h.
		if rerr := s.cfg.CA.Revoke(ctx, leaf.SerialNumber.String(), "enrollment not recorded"); rerr != nil {
			s.log.Error("certificate issued but enrollment not recorded, and revoking it failed; it expires within 24 h",
				"device", deviceID, "serial", leaf.SerialNumber.String(), "err", err, "revoke_err", rerr)
		} else {
			s.log.Warn("certificate issued but enrollment not recorded; revoked", "device", deviceID,
				"serial", leaf.SerialNumber.String(), "err", err)
		}
		switch {
		case errors.Is(err, store.ErrNonceUsed):
			return nil, reject(http.StatusConflict, ReasonNonceUsed, "this challenge was already used; request a new challenge", err)
		case errors.Is(err, store.ErrNonceExpired):
			return nil, reject(http.StatusUnauthorized, ReasonNonceExpired,
				"the challenge expired; request a new challenge and sign within 5 minutes", err)
		case errors.Is(err, store.ErrNotAllowed):
			return nil, deviceExists(err)
		case errors.Is(err, store.ErrTokenUsed), errors.Is(err, store.ErrTokenRevoked), errors.Is(err, store.ErrTokenExpired),
			errors.Is(err, store.ErrNotFound) && g.claimedWith != "":
			return nil, tokenError(err)
		case errors.Is(err, store.ErrExists):
			return nil, reject(http.StatusConflict, ReasonDeviceConflict,
				"this laptop's hardware fingerprint, device key or WireGuard key is already enrolled; ask an administrator", err)
		}
		return nil, reject(http.StatusInternalServerError, ReasonInternal, "the enrollment could not be recorded; try again later", err)
	}
	if old != nil {
		// Recorded: revoke even if the client has gone away meanwhile.
		s.revokeReplaced(context.WithoutCancel(ctx), old, deviceID)
	}
	root := chain[len(chain)-1]
	fp := s.cfg.RootFingerprint
	if fp == "" {
		sum := sha256.Sum256(root.Raw)
		fp = hex.EncodeToString(sum[:])
	}
	resp := &protocol.EnrollResponse{
		DeviceID:    deviceID,
		Certificate: string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: leaf.Raw})),
		Root:        string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: root.Raw})),
		Config:      s.agentConfig(ctx, deviceID, fp),
	}
	for _, c := range chain[:len(chain)-1] {
		resp.Chain = append(resp.Chain, string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Raw})))
	}
	return resp, nil
}

// revokeReplaced revokes the certificates of old, which the device newID
// replaced, so that none of them is ever renewed. The re-enrollment stands
// whatever happens here; failures are logged, and such a certificate dies
// at its expiry (24 h).
func (s *Server) revokeReplaced(ctx context.Context, old *store.Device, newID string) {
	for _, c := range old.Certificates {
		n, ok := new(big.Int).SetString(c.Serial, 16)
		if !ok {
			s.log.Error("replaced device has a certificate serial that is not hex; not revoked",
				"device", old.ID, "replaced_by", newID, "serial", c.Serial)
			continue
		}
		// The store keeps serials in hex, step-ca in decimal.
		if err := s.cfg.CA.Revoke(ctx, n.String(), "device re-enrolled as "+newID); err != nil {
			s.log.Error("revoking a certificate of a replaced device failed; it expires at its not-after",
				"device", old.ID, "replaced_by", newID, "serial", n.String(), "not_after", c.NotAfter, "err", err)
			continue
		}
		s.log.Info("revoked a certificate of a replaced device", "device", old.ID, "replaced_by", newID, "serial", n.String())
	}
}
