package api

import (
	"context"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/kiwistack/endpoint/enroll/protocol"
	"github.com/kiwistack/endpoint/server/ca"
	"github.com/kiwistack/endpoint/server/store"
)

// Reasons of the intermediate rotation (seed D4 scenario 03).
const (
	// ReasonIntermediateRetired refuses a device certificate of a retired
	// intermediate anywhere but POST /v1/device/reissue.
	ReasonIntermediateRetired = "intermediate_retired"
	// ReasonReissueRefused refuses a reissue the registry does not back.
	ReasonReissueRefused = "reissue_refused"
)

// auditDeviceReissue names the audit entries of reissues.
const auditDeviceReissue = "device_reissue"

// Rotator is a CA whose tenant intermediate can be replaced: the embedded
// step-ca (ca.Embedded). An external step-ca is switched by its operator,
// so rotate_intermediate is not available with one.
type Rotator interface {
	// Intermediate is the current tenant intermediate.
	Intermediate() *x509.Certificate
	// CheckRotation says why next cannot replace it.
	CheckRotation(next *x509.Certificate) error
	// Rotate makes next the intermediate that signs.
	Rotate(next *x509.Certificate) error
}

var _ Rotator = (*ca.Embedded)(nil)

// anchors returns the pool of the tenant intermediate, the only anchor of
// admins' slot 9a certificates and device certificates.
func (s *Server) anchors() *x509.CertPool { return s.anchor.Load() }

// setAnchor makes c the tenant intermediate that certificates must chain to.
func (s *Server) setAnchor(c *x509.Certificate) {
	p := x509.NewCertPool()
	p.AddCert(c)
	s.anchor.Store(p)
}

// parseIntermediateDocument reads a rotate_intermediate's document: one PEM
// certificate and nothing else.
func parseIntermediateDocument(doc string) (*x509.Certificate, error) {
	block, rest := pem.Decode([]byte(doc))
	if block == nil || block.Type != "CERTIFICATE" || strings.TrimSpace(string(rest)) != "" {
		return nil, errors.New("the document must be exactly one PEM CERTIFICATE, the new intermediate the MSP signed")
	}
	c, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		return nil, fmt.Errorf("the document's certificate does not parse: %w", err)
	}
	return c, nil
}

// checkRotateIntermediate refuses, before anyone signs, a rotation that
// could not apply: no document, not one certificate, a CA that cannot
// rotate here, or an intermediate the CA would not take.
func checkRotateIntermediate(_ context.Context, s *Server, req *protocol.OperationRequest, _ []store.RosterEntry) *apiError {
	rot, ok := s.cfg.CA.(Rotator)
	if !ok {
		return reject(http.StatusBadRequest, ReasonOperationNotAvailable,
			"this API uses an external step-ca: install the new intermediate in step-ca, then restart the API against it", nil)
	}
	if req.Document == "" {
		return reject(http.StatusBadRequest, ReasonInvalidParams,
			"rotate_intermediate needs the new intermediate (PEM) as document and its SHA-256 as params.document_sha256", nil)
	}
	next, err := parseIntermediateDocument(req.Document)
	if err != nil {
		return reject(http.StatusBadRequest, ReasonInvalidParams, err.Error(), err)
	}
	if err := rot.CheckRotation(next); err != nil {
		return reject(http.StatusBadRequest, ReasonInvalidParams,
			"the new intermediate cannot replace the current one: "+err.Error(), err)
	}
	return nil
}

// describeRotation says a rotate_intermediate in words.
func describeRotation(p map[string]string, t string, _ []store.RosterEntry) string {
	return fmt.Sprintf("of %s's intermediate to the certificate with SHA-256 %s", t, p[protocol.ParamDocumentSHA256])
}

// rotateIntermediate applies an approved rotate_intermediate: the CA signs
// with the new intermediate from now on, the API trusts only it, and the
// returned record retires the old one in the operation's transaction. A
// retry after a transaction that did not commit finds the CA rotated
// already and only records the retirement.
func (s *Server) rotateIntermediate(doc string) (*store.RetiredIntermediate, string, error) {
	rot, ok := s.cfg.CA.(Rotator)
	if !ok {
		return nil, "", errors.New("the CA cannot rotate its intermediate")
	}
	next, err := parseIntermediateDocument(doc)
	if err != nil {
		return nil, "", err
	}
	old := rot.Intermediate()
	if old.Equal(next) {
		prev, err := s.previousIntermediate()
		if err != nil {
			return nil, "", err
		}
		old = prev
	} else if err := rot.Rotate(next); err != nil {
		return nil, "", err
	}
	s.setAnchor(next)
	text := fmt.Sprintf("intermediate %s (SHA-256 %s) retired; %s (SHA-256 %s) signs from now on: devices get new certificates at their next check-in, administrators run kiwistack-enroll keys refresh",
		old.Subject.CommonName, ca.Fingerprint(old), next.Subject.CommonName, ca.Fingerprint(next))
	return &store.RetiredIntermediate{SHA256: ca.Fingerprint(old), Certificate: string(ca.PEM(old))}, text, nil
}

// previousIntermediate is the newest retired intermediate the CA keeps.
func (s *Server) previousIntermediate() (*x509.Certificate, error) {
	r, ok := s.cfg.CA.(interface {
		Retired() ([]*x509.Certificate, error)
	})
	if !ok {
		return nil, errors.New("the CA keeps no retired intermediates")
	}
	all, err := r.Retired()
	if err != nil || len(all) == 0 {
		return nil, fmt.Errorf("the CA was rotated but keeps no retired intermediate: %v", err)
	}
	return all[len(all)-1], nil
}

// retiredPool returns the retired intermediates as a pool, and whether
// there are any.
func (s *Server) retiredPool(ctx context.Context) (*x509.CertPool, bool, error) {
	rs, err := s.cfg.Store.RetiredIntermediates(ctx)
	if err != nil {
		return nil, false, err
	}
	p := x509.NewCertPool()
	for _, r := range rs {
		c, err := parseIntermediateDocument(r.Certificate)
		if err != nil {
			return nil, false, fmt.Errorf("retired intermediate %s: %w", r.SHA256, err)
		}
		p.AddCert(c)
	}
	return p, len(rs) > 0, nil
}

// retiredChain reports whether leaf, which did not verify against the
// current intermediate, verifies against a retired one (ignoring expiry
// when grace > 0 and the leaf expired less than grace ago).
func (s *Server) retiredChain(ctx context.Context, leaf *x509.Certificate, inter *x509.CertPool, now time.Time, grace time.Duration) bool {
	pool, any, err := s.retiredPool(ctx)
	if err != nil || !any {
		return false
	}
	at := now
	if grace > 0 && now.After(leaf.NotAfter) && now.Sub(leaf.NotAfter) <= grace {
		at = leaf.NotAfter
	}
	_, err = leaf.Verify(x509.VerifyOptions{Roots: pool, Intermediates: inter, CurrentTime: at,
		KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}})
	return err == nil
}

// retiredRejection is the answer to a device certificate of a retired
// intermediate presented where only current ones count.
func retiredRejection() *apiError {
	return reject(http.StatusUnauthorized, ReasonIntermediateRetired,
		"the device certificate is from the tenant's retired intermediate; get a new one with POST /v1/device/reissue (the agent does this itself)",
		errors.New("certificate of a retired intermediate"))
}

// handleDeviceReissue answers POST /v1/device/reissue: a device whose
// certificate is from a retired intermediate gets one from the current
// intermediate for the same key. The old certificate proves nothing here
// (its intermediate may be compromised); the registry does: the TLS
// handshake proves the key, whose SHA-256 is the device id of an active
// device with this certificate serial and WireGuard key on record.
func (s *Server) handleDeviceReissue(w http.ResponseWriter, r *http.Request) {
	now := s.cfg.Now()
	id, resp, e := s.reissue(r, now)
	if e != nil {
		if id != "" {
			if _, err := s.cfg.Store.AppendAudit(r.Context(), store.AuditRecord{Time: now, Operation: auditDeviceReissue,
				ParamsDigest: id, Result: resultRejected, Reason: e.reason}); err != nil {
				s.log.Error("audit of a refused reissue failed", "device", id, "err", err)
			}
		}
		s.fail(w, r, e)
		return
	}
	s.log.Info("device certificate reissued under the current intermediate", "device", id)
	writeJSON(w, http.StatusOK, resp)
}

// reissue does the work of handleDeviceReissue; id is the device named by
// the client certificate, once known.
func (s *Server) reissue(r *http.Request, now time.Time) (string, *protocol.EnrollResponse, *apiError) {
	ad, e := s.authDevice(r, now, deviceAuth{retired: true})
	if e != nil {
		id := ""
		if ad != nil {
			id = ad.id
		}
		return id, nil, e
	}
	id, d, leaf := ad.id, ad.dev, ad.leaf
	var req protocol.DeviceReissueRequest
	if e := s.readJSON(r, &req); e != nil {
		return id, nil, e
	}
	if err := req.Validate(); err != nil {
		return id, nil, reject(http.StatusBadRequest, protocol.ReasonMalformed, err.Error(), err)
	}
	csr, e := parseCSR(req.CSR)
	if e != nil {
		return id, nil, e
	}
	spki := leaf.RawSubjectPublicKeyInfo
	if string(csr.RawSubjectPublicKeyInfo) != string(spki) {
		return id, nil, reject(http.StatusBadRequest, ReasonReissueRefused,
			"the CSR is not for the device key of the client certificate; sign it with the device key", errors.New("csr key differs"))
	}
	if got := protocol.DeviceID(protocol.DeviceKeyHash(spki)); got != id {
		return id, nil, reject(http.StatusForbidden, ReasonReissueRefused,
			"the certificate's key is not the key this device enrolled with; re-enroll the device",
			fmt.Errorf("key is device %s, certificate names %s", got, id))
	}
	if e := s.checkCSRNames(csr, d.WireGuardPublicKey); e != nil {
		return id, nil, e
	}
	serial := hex.EncodeToString(leaf.SerialNumber.Bytes())
	known := false
	for _, c := range d.Certificates {
		known = known || c.Serial == serial
	}
	if !known {
		return id, nil, reject(http.StatusForbidden, ReasonReissueRefused,
			"this certificate was never issued to the device by this tenant; re-enroll the device", fmt.Errorf("serial %s not on record", serial))
	}
	issued, chain, err := s.cfg.CA.Sign(r.Context(), csr, id, s.deviceLifetime())
	if errors.Is(err, ca.ErrRefused) {
		return id, nil, reject(http.StatusBadRequest, ReasonCARefused, "the certificate authority refused the CSR", err)
	}
	if err != nil || len(chain) == 0 {
		return id, nil, reject(http.StatusBadGateway, ReasonCAUnavailable,
			"the certificate authority did not issue the certificate; try again later", err)
	}
	if err := s.cfg.Store.AddDeviceCertificate(r.Context(), id, store.DeviceCertificate{Serial: hex.EncodeToString(issued.SerialNumber.Bytes()),
		NotAfter: issued.NotAfter, IssuedAt: now, Issuer: ca.Fingerprint(chain[0])}); err != nil {
		return id, nil, reject(http.StatusInternalServerError, ReasonInternal, "the new certificate could not be recorded; try again later", err)
	}
	if _, err := s.cfg.Store.AppendAudit(r.Context(), store.AuditRecord{Time: now, Operation: auditDeviceReissue,
		ParamsDigest: id, Result: resultAccepted}); err != nil {
		s.log.Error("audit of a reissue failed", "device", id, "err", err)
	}
	root := chain[len(chain)-1]
	resp := &protocol.EnrollResponse{
		DeviceID:    id,
		Certificate: string(ca.PEM(issued)),
		Root:        string(ca.PEM(root)),
		Config:      s.agentConfig(r.Context(), id, ca.Fingerprint(root)),
	}
	for _, c := range chain[:len(chain)-1] {
		resp.Chain = append(resp.Chain, string(ca.PEM(c)))
	}
	return id, resp, nil
}
