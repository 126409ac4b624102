package api

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/kiwistack/endpoint/enroll/protocol"
	"github.com/kiwistack/endpoint/server/store"
	"github.com/kiwistack/endpoint/server/trust"
)

// signer is who signed a statement, as verifySigner found it.
type signer struct {
	stmt *protocol.Statement
	leaf *x509.Certificate
	// operator is set when the chain goes to Config.OperatorRoots.
	operator bool
}

// verifySigner verifies a parsed statement's signature and its signer's
// chain at now; enrollments and operation signatures both use it. The
// chain goes to the tenant intermediate, or (when operator is set, for an
// operation's co-signature) to the operators' anchor, or to an entry of the
// tenant's trust list (bring your own certificate, server/trust). A BYOC
// signer must also pass trust.CheckSigner (O the tenant, OU a role of the
// current policy) and sign with its pseudo-serial (protocol.BYOCSerial);
// it is then recorded in the roster under that serial, bound to its entry,
// so that the roster's checks (pinned key, burned) apply to it as to a
// YubiKey and removing the entry burns it.
func (s *Server) verifySigner(ctx context.Context, signed *protocol.Signed, now time.Time, operator bool) (signer, *apiError) {
	stmt, leaf, err := signed.Verify(s.anchors(), nil, now)
	if err == nil {
		return signer{stmt: stmt, leaf: leaf}, nil
	}
	if !errors.Is(err, protocol.ErrChain) {
		return signer{}, protocolError(err)
	}
	if operator && s.ops.operatorRoots != nil {
		if st, lf, err2 := signed.Verify(s.ops.operatorRoots, nil, now); err2 == nil {
			return signer{stmt: st, leaf: lf, operator: true}, nil
		}
	}
	if pool, any, rerr := s.retiredPool(ctx); rerr == nil && any {
		if _, _, err2 := signed.Verify(pool, nil, now); err2 == nil {
			return signer{}, reject(http.StatusForbidden, ReasonIntermediateRetired,
				"the signing certificate is from the tenant's retired intermediate; get a new one for the same key with kiwistack-enroll keys refresh, then sign again",
				errors.New("admin certificate of a retired intermediate"))
		}
	}
	entries, lerr := s.cfg.Store.TrustEntries(ctx)
	if lerr != nil {
		return signer{}, reject(http.StatusInternalServerError, ReasonInternal, "the trust list could not be read; try again later", lerr)
	}
	if len(entries) == 0 {
		return signer{}, protocolError(err)
	}
	stmt, leaf, entry, merr := trust.Match(signed, entries, now)
	if errors.Is(merr, trust.ErrNoMatch) {
		// Report why the tenant chain failed (expiry, unknown issuer).
		return signer{}, protocolError(fmt.Errorf("%w; trust list: %w", err, merr))
	}
	if merr != nil {
		return signer{}, protocolError(merr)
	}
	if e := s.checkTrustSigner(ctx, stmt, leaf, entry.ID); e != nil {
		return signer{}, e
	}
	return signer{stmt: stmt, leaf: leaf}, nil
}

// checkTrustSigner applies the tenant's signer rules to a BYOC signer
// admitted by trust entry id and records it in the roster.
func (s *Server) checkTrustSigner(ctx context.Context, stmt *protocol.Statement, leaf *x509.Certificate, id string) *apiError {
	err := trust.CheckSigner(leaf, s.cfg.Tenant, s.currentPolicy().Roles)
	switch {
	case errors.Is(err, trust.ErrWrongOrganization):
		return reject(http.StatusForbidden, ReasonWrongOrganization,
			"the administrator's certificate names another organization; its O must be the tenant", err)
	case errors.Is(err, trust.ErrUnknownRole):
		return reject(http.StatusForbidden, ReasonRoleInsufficient,
			"the administrator's certificate names no role of the tenant's policy in its OU", err)
	case err != nil:
		return reject(http.StatusForbidden, protocol.ReasonChain,
			"the certificate cannot sign for this tenant; see docs/authorization.md (bring your own certificate)", err)
	}
	r := trust.Signer(leaf)
	if stmt.YubiKeySerial != r.Serial {
		return reject(http.StatusForbidden, ReasonKeyMismatch,
			fmt.Sprintf("a certificate from the trust list signs with yubikey_serial %d (derived from its key); sign again with it", r.Serial),
			fmt.Errorf("statement serial %d, pseudo-serial %d", stmt.YubiKeySerial, r.Serial))
	}
	r.AddedAt = s.cfg.Now()
	err = s.cfg.Store.RegisterTrustSigner(ctx, id, r)
	switch {
	case errors.Is(err, store.ErrNotFound):
		return reject(http.StatusForbidden, protocol.ReasonChain,
			"the trust list entry of this certificate was just removed; it signs nothing any more", err)
	case errors.Is(err, store.ErrExists):
		return reject(http.StatusForbidden, ReasonKeyMismatch,
			"this key is already in the roster under another serial; sign with that key's own registration", err)
	case err != nil:
		return reject(http.StatusInternalServerError, ReasonInternal, "the roster could not be updated; try again later", err)
	}
	return nil
}
