package api

import (
	"context"
	"crypto"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/kiwistack/endpoint/enroll/protocol"
	"github.com/kiwistack/endpoint/server/ca"
	"github.com/kiwistack/endpoint/server/store"
)

// ReasonDeviceCertExpiring answers an app-certificate request whose device
// certificate has less than minAppLifetime left: the agent renews the
// device certificate first.
const ReasonDeviceCertExpiring = "device_certificate_expiring"

// AuditOperationAppCertificate is the audit operation of app-certificate
// requests, accepted or rejected.
const AuditOperationAppCertificate = "app_certificate"

// minAppLifetime is the shortest app certificate the API asks for.
const minAppLifetime = time.Minute

// AppCA is what POST /v1/device/app-certificate needs from the CA beyond
// CA: *ca.Embedded and *ca.Remote implement it. A CA without it answers
// that endpoint with ca_unavailable.
type AppCA interface {
	// SignApp issues an app certificate (docs/app-certificate.md) and
	// returns it with the chain above it, the root last.
	SignApp(ctx context.Context, req ca.AppRequest) (leaf *x509.Certificate, chain []*x509.Certificate, err error)
}

// handleAppCertificate is POST /v1/device/app-certificate: an active
// device, authenticated by its device certificate over mutual TLS exactly
// as the check-in is, gets a short-lived client certificate for one of its
// desktop users' browsers. The certificate never outlives the device
// certificate, is bound to the device by its app URI, and is refused as a
// device identity everywhere. Every outcome writes one audit entry.
func (s *Server) handleAppCertificate(w http.ResponseWriter, r *http.Request) {
	now := s.cfg.Now()
	resp, id, user, e := s.appCertificate(r, now)
	if e != nil {
		if _, err := s.cfg.Store.AppendAudit(r.Context(), store.AuditRecord{
			Time: now, Operation: AuditOperationAppCertificate, Result: resultRejected, Reason: e.reason,
		}); err != nil {
			s.log.Error("appending audit entry for a rejected app certificate", "reason", e.reason, "err", err)
		}
		s.fail(w, r, e)
		return
	}
	s.log.Info("app certificate issued", "device", id, "user", user, "not_after", resp.NotAfter)
	writeJSON(w, http.StatusCreated, resp)
}

// appCertificate runs the checks and has the CA sign; it returns the
// answer, the device id and the user.
func (s *Server) appCertificate(r *http.Request, now time.Time) (*protocol.AppCertificateResponse, string, string, *apiError) {
	id, leaf, e := s.activeDevice(r, now)
	if e != nil {
		return nil, "", "", e
	}
	var req protocol.AppCertificateRequest
	if e := s.readJSON(r, &req); e != nil {
		return nil, id, "", e
	}
	if err := req.Validate(); err != nil {
		return nil, id, "", reject(http.StatusBadRequest, protocol.ReasonMalformed,
			"the request is not valid: "+err.Error(), err)
	}
	csr, err := req.ParseCSR()
	if err != nil {
		return nil, id, req.User, reject(http.StatusBadRequest, ReasonBadCSR, "the csr is not a PKCS #10 request", err)
	}
	if err := csr.CheckSignature(); err != nil {
		return nil, id, req.User, reject(http.StatusBadRequest, ReasonCSRSignature, "the csr's signature does not verify", err)
	}
	if pub, ok := leaf.PublicKey.(interface{ Equal(crypto.PublicKey) bool }); ok && pub.Equal(csr.PublicKey) {
		return nil, id, req.User, reject(http.StatusBadRequest, ReasonBadCSR,
			"the csr is for the device key; generate a new key for the user", errors.New("csr key is the device key"))
	}
	left := leaf.NotAfter.Sub(now)
	if left < minAppLifetime {
		return nil, id, req.User, reject(http.StatusForbidden, ReasonDeviceCertExpiring,
			fmt.Sprintf("the device certificate expires in %s; renew it first, then ask again", left.Round(time.Second)),
			fmt.Errorf("device certificate not after %s", leaf.NotAfter))
	}
	lifetime := min(protocol.MaxAppCertificateLifetime, left)
	if req.LifetimeSeconds > 0 {
		lifetime = min(lifetime, time.Duration(req.LifetimeSeconds)*time.Second)
	}
	signer, ok := s.cfg.CA.(AppCA)
	if !ok {
		return nil, id, req.User, reject(http.StatusServiceUnavailable, ReasonCAUnavailable,
			"this tenant's certificate authority does not issue app certificates", errors.New("the CA does not implement AppCA"))
	}
	cert, chain, err := signer.SignApp(r.Context(), ca.AppRequest{CSR: csr, DeviceID: id, User: req.User, Lifetime: lifetime})
	if errors.Is(err, ca.ErrRefused) {
		return nil, id, req.User, reject(http.StatusBadRequest, ReasonCARefused,
			"the certificate authority refused the request; send a CSR without names, for a lifetime of at least a minute", err)
	}
	if err != nil || len(chain) == 0 {
		return nil, id, req.User, reject(http.StatusBadGateway, ReasonCAUnavailable,
			"the certificate authority did not issue the certificate; try again, and report it if it persists", err)
	}
	sum := sha256.Sum256(cert.Raw)
	if _, err := s.cfg.Store.AppendAudit(r.Context(), store.AuditRecord{
		Time: now, Operation: AuditOperationAppCertificate, ParamsDigest: hex.EncodeToString(sum[:]), Result: resultAccepted,
	}); err != nil {
		return nil, id, req.User, reject(http.StatusInternalServerError, ReasonInternal,
			"the request could not be recorded; try again later", err)
	}
	var certPEM []byte
	certPEM = append(certPEM, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: cert.Raw})...)
	for _, c := range chain[:len(chain)-1] {
		certPEM = append(certPEM, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Raw})...)
	}
	root := chain[len(chain)-1]
	return &protocol.AppCertificateResponse{
		Certificate: string(certPEM),
		Root:        string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: root.Raw})),
		NotAfter:    cert.NotAfter.UTC().Format(protocol.TimestampLayout),
	}, id, req.User, nil
}

// activeDevice authenticates a device request as the check-in does
// (authDevice).
func (s *Server) activeDevice(r *http.Request, now time.Time) (string, *x509.Certificate, *apiError) {
	ad, e := s.authDevice(r, now, deviceAuth{})
	if e != nil {
		return "", nil, e
	}
	return ad.id, ad.leaf, nil
}
