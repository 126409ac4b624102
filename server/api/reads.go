package api

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	"github.com/kiwistack/endpoint/enroll/protocol"
	"github.com/kiwistack/endpoint/server/authz"
	"github.com/kiwistack/endpoint/server/store"
)

// Reasons of signature-gated reads (protocol/readgrant.go).
const (
	// ReasonReadGrantMissing answers a read without a read grant.
	ReasonReadGrantMissing = "read_grant_missing"
	// ReasonReadGrantInvalid answers a read whose grant is not an applied
	// operation of the right kind, or whose signature or time is wrong.
	ReasonReadGrantInvalid = "read_grant_invalid"
	// ReasonReadGrantExpired answers a read after the grant's end.
	ReasonReadGrantExpired = "read_grant_expired"
)

// readSpec is the operation spec of read_audit and read_status: one
// parameter, the reader's one-time key.
func readSpec(what string) operationSpec {
	return operationSpec{required: []string{protocol.ParamReaderKey},
		check: func(_ context.Context, _ *Server, req *protocol.OperationRequest, _ []store.RosterEntry) *apiError {
			if _, err := protocol.ParseReaderKey(req.Params[protocol.ParamReaderKey]); err != nil {
				return reject(http.StatusBadRequest, ReasonInvalidParams, err.Error(), err)
			}
			return nil
		},
		describe: func(p map[string]string, t string, _ []store.RosterEntry) string {
			return fmt.Sprintf("of %s's %s for %s to the holder of one-time key %s", t, what, protocol.ReadGrantLifetime, p[protocol.ParamReaderKey])
		}}
}

// readEffect is what applying a read operation does: nothing but the grant
// its applied state is.
func readEffect() string {
	return fmt.Sprintf("read granted for %s to the requester's one-time key", protocol.ReadGrantLifetime)
}

// requireRead checks r's read grant for operation (read_audit or
// read_status): an applied operation of that kind, applied less than
// ReadGrantLifetime ago, whose reader key signed this very request.
func (s *Server) requireRead(r *http.Request, operation string) *apiError {
	h := r.Header.Get("Authorization")
	if h == "" {
		return reject(http.StatusUnauthorized, ReasonReadGrantMissing,
			fmt.Sprintf("reading this needs a %s signed by an administrator (kiwistack-enroll admin does it for you)", operation), nil)
	}
	id, ts, sig, err := protocol.ParseReadAuthorization(h)
	if err != nil {
		return reject(http.StatusUnauthorized, ReasonReadGrantInvalid, err.Error(), err)
	}
	op, _, err := s.cfg.Store.Operation(r.Context(), id)
	if errors.Is(err, store.ErrNotFound) {
		return reject(http.StatusForbidden, ReasonReadGrantInvalid, "the read grant names no operation of this tenant", err)
	}
	if err != nil {
		return reject(http.StatusInternalServerError, ReasonInternal, "the read grant could not be checked; try again later", err)
	}
	now := s.cfg.Now()
	switch {
	case op.Operation != operation:
		return reject(http.StatusForbidden, ReasonReadGrantInvalid,
			fmt.Sprintf("operation %s is a %s, not a %s", id, op.Operation, operation), nil)
	case op.State != string(authz.StateApplied):
		return reject(http.StatusForbidden, ReasonReadGrantInvalid,
			fmt.Sprintf("operation %s is %s: an administrator must sign it first", id, op.State), nil)
	case now.Sub(op.AppliedAt) > protocol.ReadGrantLifetime:
		return reject(http.StatusForbidden, ReasonReadGrantExpired,
			fmt.Sprintf("the read grant ended %s after it was signed; request a new one", protocol.ReadGrantLifetime), nil)
	}
	if err := protocol.VerifyRead(op.Params[protocol.ParamReaderKey], s.cfg.Tenant, r.Method, r.URL.RequestURI(), ts, sig, now); err != nil {
		return reject(http.StatusForbidden, ReasonReadGrantInvalid, err.Error(), err)
	}
	return nil
}
