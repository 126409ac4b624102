package api

import (
	"context"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/kiwistack/endpoint/enroll/protocol"
	"github.com/kiwistack/endpoint/server/ca"
	"github.com/kiwistack/endpoint/server/store"
)

// handleAdminReissue issues a new slot 9a certificate, under the CA's
// current intermediate, for a key the roster already pins to a YubiKey: the
// way back for administrators after rotate_intermediate (docs/api.md). No
// token authenticates it: a certificate for a key is of no use to anyone
// who lacks the key, the CSR's signature proves the sender holds it, the
// YubiKey attestation that it lives in slot 9a of the roster's serial, and
// the roster, not the request, names the subject. Every outcome but a
// rate-limited one writes exactly one audit entry; a rejection writes
// nothing else. Rejected requests drain the sender's address's bucket as
// failed claims do.
func (s *Server) handleAdminReissue(w http.ResponseWriter, r *http.Request) {
	host, now := remoteHost(r), s.cfg.Now()
	if ok, wait := s.reissues.allow(host, now); !ok {
		// No audit entry: a flood must not grow the audit log.
		w.Header().Set("Retry-After", strconv.Itoa(int(wait.Round(time.Second)/time.Second)+1))
		s.fail(w, r, reject(http.StatusTooManyRequests, ReasonRateLimited,
			"too many failed reissue requests from this address; wait and try again", fmt.Errorf("reissues from %s", host)))
		return
	}
	var ai auditSubject
	resp, e := s.reissueAdmin(r, &ai)
	if e != nil {
		if e.status < 500 {
			s.reissues.fail(host, now)
		}
		s.auditRejected(r.Context(), protocol.OpReissueAdminCertificate, ai, e, "admin certificate reissue")
		s.fail(w, r, e)
		return
	}
	s.log.Info("admin certificate reissued", "serial", ai.actor, "admin", resp.RosterEntry.Admin, "role", resp.RosterEntry.Role)
	writeJSON(w, http.StatusCreated, resp)
}

// reissueAdmin runs the checks in the documented order and has the CA sign.
// It writes nothing unless every check passes.
func (s *Server) reissueAdmin(r *http.Request, ai *auditSubject) (*protocol.AdminCertificateResponse, *apiError) {
	var req protocol.AdminReissueRequest
	if e := s.readJSON(r, &req); e != nil {
		return nil, e
	}
	ai.actor = req.Serial
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
	if e := s.checkAttestation(&protocol.AdminCertificateRequest{Serial: req.Serial, Attestation: req.Attestation,
		AttestationIntermediate: req.AttestationIntermediate}, csr); e != nil {
		return nil, e
	}
	entry, e := s.reissueRosterEntry(r.Context(), req.Serial, ai.digest)
	if e != nil {
		return nil, e
	}
	if e := checkReissueCSRNames(csr, entry.Admin); e != nil {
		return nil, e
	}
	return s.signAdmin(r.Context(), ca.AdminRequest{CSR: csr, Serial: entry.Serial, Admin: entry.Admin, Role: entry.Role},
		protocol.OpReissueAdminCertificate, ai.digest)
}

// reissueRosterEntry returns the roster's entry for serial when it may have
// its certificate reissued: known, not burned, pinned to the key whose SPKI
// SHA-256 is digest, with a role of the current policy and a subject that
// makes a valid certificate.
func (s *Server) reissueRosterEntry(ctx context.Context, serial uint32, digest string) (store.RosterEntry, *apiError) {
	entry, err := s.cfg.Store.RosterEntry(ctx, serial)
	switch {
	case errors.Is(err, store.ErrNotFound):
		return entry, reject(http.StatusForbidden, ReasonUnknownKey,
			fmt.Sprintf("YubiKey %d is not in the tenant's roster: only a key provisioned for this tenant (kiwistack-enroll keys provision) and added to its roster can have its certificate reissued", serial), err)
	case err != nil:
		return entry, reject(http.StatusInternalServerError, ReasonInternal, "the roster could not be read; try again later", err)
	case entry.Burned:
		return entry, reject(http.StatusForbidden, ReasonKeyBurned,
			fmt.Sprintf("YubiKey %d was burned (declared lost) on %s: it gets no certificate again; provision a replacement key", serial, protocol.FormatTimestamp(entry.BurnedAt)), nil)
	case entry.SPKISHA256 != digest:
		return entry, reject(http.StatusForbidden, ReasonKeyMismatch,
			fmt.Sprintf("slot 9a of YubiKey %d holds another key than the roster pins for it: a key generated again needs keys provision and a roster change (add_admin), not a reissue", serial),
			fmt.Errorf("roster pins %s, attested key %s", entry.SPKISHA256, digest))
	}
	if pol := s.currentPolicy(); !pol.HasRole(entry.Role) {
		return entry, reject(http.StatusForbidden, ReasonUnknownRole,
			fmt.Sprintf("the roster gives YubiKey %d the role %q, which the tenant's policy no longer has; ask the tenant's founder", serial, entry.Role), nil)
	}
	if err := protocol.ValidateAdminSubject(entry.Admin, entry.Role, s.cfg.Tenant); err != nil {
		return entry, reject(http.StatusInternalServerError, ReasonInternal,
			fmt.Sprintf("the roster's entry for YubiKey %d does not make a valid certificate subject; report this to the tenant's operator", serial), err)
	}
	return entry, nil
}

// checkReissueCSRNames refuses a CSR that names a holder other than the
// roster's admin or any subject alternative name: the roster names the
// subject and the CA sets the YubiKey's URI, and step-ca refuses a CSR
// whose names differ from those. Its OU and O are ignored (the
// certificate's come from the roster and the tenant).
func checkReissueCSRNames(csr *x509.CertificateRequest, admin string) *apiError {
	if cn := csr.Subject.CommonName; cn != "" && cn != admin {
		return reject(http.StatusBadRequest, ReasonBadSubject,
			fmt.Sprintf("the CSR names CN=%q but the roster names this key's holder %q; leave the CSR's subject empty, the roster names it", cn, admin), nil)
	}
	if len(csr.DNSNames)+len(csr.EmailAddresses)+len(csr.IPAddresses)+len(csr.URIs) != 0 {
		return reject(http.StatusBadRequest, ReasonBadSubject,
			"the CSR names subject alternative names; leave them out, the certificate authority sets the YubiKey's URI", nil)
	}
	return nil
}
