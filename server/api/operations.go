package api

import (
	"context"
	"crypto/rand"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/kiwistack/endpoint/enroll/protocol"
	"github.com/kiwistack/endpoint/server/authz"
	"github.com/kiwistack/endpoint/server/metrics"
	"github.com/kiwistack/endpoint/server/policy"
	"github.com/kiwistack/endpoint/server/store"
)

// The operations API (issue 7, the seven hops of seed Z5): POST
// /v1/operations creates an instance and answers with its challenge,
// POST …/signatures and …/cancellations add signed statements, GET reads
// one or a list. Every read and write re-evaluates the instance with
// server/authz at the server's clock, stores the state the engine allows
// and applies the operation once it is approved, all in one store
// transaction per instance. Reading needs no signature in this version;
// the read_* operations of seed Z1 will gate it.

// OperationLifetime is how long a requested operation waits for its
// signatures before it expires (the challenge's end, authz.Request.Expires).
const OperationLifetime = 24 * time.Hour

// ReenrollConsentLifetime is how long a reenroll_consent allowance lasts.
const ReenrollConsentLifetime = 24 * time.Hour

// operationIDBytes is the length of an operation id before encoding.
const operationIDBytes = 16

// maxListedOperations bounds GET /v1/operations.
const maxListedOperations = 500

// auditPageSize is the number of entries of one GET /v1/audit answer.
const auditPageSize = 200

// Reason codes of the operations API.
const (
	ReasonOperationNotAvailable = "operation_not_available" // in the policy, but this version cannot apply it
	ReasonInvalidParams         = "invalid_params"          // parameters invalid for the operation
	ReasonUnknownDevice         = "unknown_device"          // a device id that is not enrolled
	ReasonLockout               = "lockout"                 // would leave an operation that nobody can sign
	ReasonOperationNotFound     = "operation_not_found"     // no operation with that id
	ReasonOperationClosed       = "operation_closed"        // applied, cancelled, expired or rejected
	ReasonDuplicateKey          = "duplicate_key"           // authz.ReasonDuplicateKey
	ReasonWindowExpired         = "window_expired"          // authz.ReasonWindowExpired
	ReasonWrongDigest           = "wrong_digest"            // authz.ReasonWrongDigest
	ReasonForeignTenant         = "foreign_tenant"          // authz.ReasonForeignTenant
	ReasonTimestampSkew         = "timestamp_skew"          // authz.ReasonTimestampSkew
	ReasonNotCancellable        = "not_cancellable"         // authz.ReasonNotCancellable
	ReasonCancelTooLate         = "cancel_too_late"         // authz.ReasonCancelTooLate
	ReasonNotYetReceived        = "not_yet_received"        // authz.ReasonNotYetReceived
)

// operationReasons are the reason codes only the operations API answers
// with (Reasons lists them; metrics of enrollments leave them out).
func operationReasons() []string {
	return []string{
		ReasonOperationNotAvailable, ReasonInvalidParams, ReasonUnknownDevice, ReasonLockout, ReasonOperationNotFound,
		ReasonOperationClosed, ReasonDuplicateKey, ReasonWindowExpired, ReasonWrongDigest, ReasonForeignTenant,
		ReasonTimestampSkew, ReasonNotCancellable, ReasonCancelTooLate, ReasonNotYetReceived,
	}
}

// Audit results of the operation hops.
const (
	resultRequested = "requested"
	resultSigned    = "signed"
	resultApproved  = "approved"
	resultStaged    = "staged"
	resultApplied   = "applied"
	resultCancelled = "cancelled"
	resultExpired   = "expired"
	resultPending   = "pending"
)

// operations is the Server's state for the operations API.
type operations struct {
	// operatorRoots is Config.OperatorRoots.
	operatorRoots *x509.CertPool
	// mu guards policy, the tenant's current policy: Config.Policy, or the
	// newest one a policy_change applied.
	mu     sync.Mutex
	policy *policy.Policy
}

// currentPolicy returns the policy new operations fall under.
func (s *Server) currentPolicy() *policy.Policy {
	s.ops.mu.Lock()
	defer s.ops.mu.Unlock()
	return s.ops.policy
}

// enrollRole is the role that signs enroll_device alone under the current
// policy (New and policy_change accept no policy where it is anything else).
func (s *Server) enrollRole() string {
	r, _ := s.currentPolicy().SingleSigner(protocol.OpEnrollDevice)
	return r
}

// setPolicy makes p the current policy.
func (s *Server) setPolicy(p *policy.Policy) {
	s.ops.mu.Lock()
	defer s.ops.mu.Unlock()
	s.ops.policy = p
}

// StoredPolicy returns the newest policy a policy_change applied in st,
// or def when none was; New uses it, so that an applied policy survives a
// restart.
func StoredPolicy(ctx context.Context, st store.Store, tenant string, def *policy.Policy) (*policy.Policy, error) {
	doc, _, err := st.CurrentPolicy(ctx)
	if errors.Is(err, store.ErrNotFound) {
		return def, nil
	}
	if err != nil {
		return nil, err
	}
	p, err := policy.Parse([]byte(doc))
	if err != nil {
		return nil, fmt.Errorf("the stored policy: %w", err)
	}
	if p.Tenant == "" {
		p.Tenant = tenant
	}
	return p, nil
}

// initOperations registers the operations API's routes.
func (s *Server) initOperations() {
	s.ops.operatorRoots = s.cfg.OperatorRoots
	s.ops.policy = s.cfg.Policy
	s.mux.HandleFunc("POST /v1/operations", s.handleRequestOperation)
	s.mux.HandleFunc("GET /v1/operations", s.handleListOperations)
	s.mux.HandleFunc("GET /v1/operations/{id}", s.handleGetOperation)
	s.mux.HandleFunc("POST /v1/operations/{id}/signatures", s.handleSignOperation)
	s.mux.HandleFunc("POST /v1/operations/{id}/cancellations", s.handleCancelOperation)
	s.mux.HandleFunc("GET /v1/audit", s.handleAudit)
}

// handleRequestOperation is hop 01-03: it checks the operation and its
// parameters (and, for remove_admin and policy_change, that the result
// leaves no operation unsignable), stores the instance and answers with
// its challenge.
func (s *Server) handleRequestOperation(w http.ResponseWriter, r *http.Request) {
	var req protocol.OperationRequest
	sub := auditSubject{}
	opName := "operation_request"
	inst, e := func() (*protocol.OperationInstance, *apiError) {
		if e := s.readJSONLimit(r, &req, protocol.MaxOperationRequestBytes); e != nil {
			return nil, e
		}
		opName = req.Operation
		return s.requestOperation(r.Context(), &req, &sub)
	}()
	if e != nil {
		s.auditRejected(r.Context(), opName, sub, e, "operation request")
		s.fail(w, r, e)
		return
	}
	s.log.Info("operation requested", "id", inst.ID, "operation", inst.Operation, "description", inst.Description)
	writeJSON(w, http.StatusCreated, inst)
}

// requestOperation does the work of handleRequestOperation.
func (s *Server) requestOperation(ctx context.Context, req *protocol.OperationRequest, sub *auditSubject) (*protocol.OperationInstance, *apiError) {
	if req.Tenant != s.cfg.Tenant {
		return nil, reject(http.StatusForbidden, ReasonTenantMismatch,
			"this API serves another tenant; check the tenant slug and the API URL", nil)
	}
	pol := s.currentPolicy()
	polOp, ok := pol.Operations[req.Operation]
	if !ok {
		return nil, reject(http.StatusBadRequest, ReasonUnknownOperation,
			fmt.Sprintf("the tenant's policy has no operation %q; see kiwistack-api policy default for the names", req.Operation), nil)
	}
	spec, ok := operationSpecs[req.Operation]
	if !ok {
		return nil, reject(http.StatusBadRequest, ReasonOperationNotAvailable,
			fmt.Sprintf("%s is in the policy but this version of the API cannot apply it yet; it is refused before anyone signs", req.Operation), nil)
	}
	roster, err := s.cfg.Store.RosterEntries(ctx)
	if err != nil {
		return nil, reject(http.StatusInternalServerError, ReasonInternal, "the roster could not be read; try again later", err)
	}
	if e := spec.check(ctx, s, req, roster); e != nil {
		return nil, e
	}
	b := make([]byte, operationIDBytes)
	_, _ = rand.Read(b)
	// "op-" first: an id never starts with "-", which command lines would
	// read as a flag (kiwistack-enroll admin sign ID).
	id := "op-" + base64.RawURLEncoding.EncodeToString(b)
	nb := make([]byte, nonceBytes)
	_, _ = rand.Read(nb)
	now := s.cfg.Now().UTC().Truncate(time.Second)
	areq, err := authz.NewRequest(id, protocol.Operation{ID: req.Operation, Tenant: req.Tenant,
		Nonce: base64.RawURLEncoding.EncodeToString(nb), Params: req.Params}, polOp, now, now.Add(OperationLifetime))
	if err != nil {
		return nil, reject(http.StatusBadRequest, protocol.ReasonMalformed, "the operation's parameters are not valid", err)
	}
	sub.digest = areq.Digest
	polJSON, err := json.Marshal(polOp)
	if err != nil {
		return nil, reject(http.StatusInternalServerError, ReasonInternal, "the operation could not be stored; try again later", err)
	}
	op := store.Operation{
		ID: id, Operation: areq.Operation, Tenant: areq.Tenant, Params: areq.Params, Document: req.Document,
		Nonce: areq.Nonce, Digest: areq.Digest, CancelDigest: areq.CancelDigest, Policy: polJSON,
		State: string(authz.StatePending), Reason: authz.ReasonSignaturesMissing, CreatedAt: now, ExpiresAt: areq.Expires,
	}
	op, _, err = s.cfg.Store.CreateOperation(ctx, op, store.AuditRecord{Time: now, Operation: op.Operation,
		ParamsDigest: op.Digest, Result: resultRequested, Reason: id})
	if err != nil {
		return nil, reject(http.StatusInternalServerError, ReasonInternal, "the operation could not be stored; try again later", err)
	}
	s.cfg.Metrics.OperationEvent(op.Operation, metrics.EventRequested)
	inst := s.instance(op, nil, roster, now)
	return &inst, nil
}

// handleGetOperation answers one operation, evaluated now.
func (s *Server) handleGetOperation(w http.ResponseWriter, r *http.Request) {
	inst, e := s.advance(r.Context(), r.PathValue("id"), s.cfg.Now(), nil)
	if e != nil {
		s.fail(w, r, e)
		return
	}
	writeJSON(w, http.StatusOK, inst)
}

// handleListOperations answers the operations in the states of ?state=
// (comma-separated; all when absent), newest first, each evaluated now.
func (s *Server) handleListOperations(w http.ResponseWriter, r *http.Request) {
	if e := s.requireRead(r, protocol.OpReadStatus); e != nil {
		s.fail(w, r, e)
		return
	}
	var states []string
	if q := r.URL.Query().Get("state"); q != "" {
		for st := range strings.SplitSeq(q, ",") {
			if !slices.Contains(authz.States(), authz.State(st)) {
				s.fail(w, r, reject(http.StatusBadRequest, protocol.ReasonMalformed,
					"state must be a comma-separated list of pending, staged, approved, applied, cancelled, expired, rejected", nil))
				return
			}
			states = append(states, st)
		}
	}
	now := s.cfg.Now()
	if err := s.Tick(r.Context(), now); err != nil {
		s.log.Error("evaluating open operations", "err", err)
	}
	ops, err := s.cfg.Store.Operations(r.Context(), states, maxListedOperations)
	if err != nil {
		s.fail(w, r, reject(http.StatusInternalServerError, ReasonInternal, "the operations could not be read; try again later", err))
		return
	}
	roster, err := s.cfg.Store.RosterEntries(r.Context())
	if err != nil {
		s.fail(w, r, reject(http.StatusInternalServerError, ReasonInternal, "the roster could not be read; try again later", err))
		return
	}
	list := protocol.OperationList{Operations: []protocol.OperationInstance{}}
	for _, op := range ops {
		_, sigs, err := s.cfg.Store.Operation(r.Context(), op.ID)
		if err != nil {
			s.fail(w, r, reject(http.StatusInternalServerError, ReasonInternal, "the operations could not be read; try again later", err))
			return
		}
		list.Operations = append(list.Operations, s.instance(op, sigs, roster, now))
	}
	writeJSON(w, http.StatusOK, list)
}

// Tick evaluates every open operation (pending, staged, approved) at now:
// it expires those whose window or challenge ended and applies those whose
// delay is over. Every read and write evaluates its operation anyway; call
// Tick from a timer so that a staged operation applies without a read.
func (s *Server) Tick(ctx context.Context, now time.Time) error {
	ops, err := s.cfg.Store.Operations(ctx, []string{string(authz.StatePending), string(authz.StateStaged), string(authz.StateApproved)}, maxListedOperations)
	if err != nil {
		return err
	}
	var errs []error
	for _, op := range ops {
		if _, e := s.advance(ctx, op.ID, now, nil); e != nil {
			errs = append(errs, e)
		}
	}
	return errors.Join(errs...)
}

// handleSignOperation is hops 04-07 for an approval or an operator
// co-signature.
func (s *Server) handleSignOperation(w http.ResponseWriter, r *http.Request) {
	s.handleStatement(w, r, false)
}

// handleCancelOperation adds a cancel statement.
func (s *Server) handleCancelOperation(w http.ResponseWriter, r *http.Request) {
	s.handleStatement(w, r, true)
}

// handleStatement verifies a posted statement, adds it to the operation
// and answers with the operation as re-evaluated. A statement the engine
// voids is not stored: the answer is its reason, with one audit entry.
func (s *Server) handleStatement(w http.ResponseWriter, r *http.Request, cancel bool) {
	ctx := r.Context()
	id := r.PathValue("id")
	now := s.cfg.Now()
	sub := auditSubject{}
	auditOp := "operation_signature"
	if op, _, err := s.cfg.Store.Operation(ctx, id); err == nil {
		auditOp, sub.digest = op.Operation, op.Digest
	}
	failed := func(e *apiError) {
		s.auditRejected(ctx, auditOp, sub, e, "operation signature")
		s.cfg.Metrics.OperationSignatureRejected(auditOp, e.reason)
		s.fail(w, r, e)
	}
	var req protocol.SignatureRequest
	if e := s.readJSON(r, &req); e != nil {
		failed(e)
		return
	}
	signed, err := protocol.Parse(req.Statement)
	if err != nil {
		failed(protocolError(err))
		return
	}
	sg, e := s.verifySigner(ctx, signed, now, true)
	if e != nil {
		failed(e)
		return
	}
	stmt, leaf, operator := sg.stmt, sg.leaf, sg.operator
	sub.actor = stmt.YubiKeySerial
	if isCancel := stmt.Operation == authz.CancelOperation; isCancel != cancel {
		want := "an approval of the operation (sign ID)"
		if cancel {
			want = "a cancel statement (cancel ID)"
		}
		failed(reject(http.StatusBadRequest, ReasonWrongOperation, "this endpoint takes "+want, fmt.Errorf("statement operation %q", stmt.Operation)))
		return
	}
	sig, err := authz.SignatureFromStatement(stmt, leaf, now, operator)
	if err != nil {
		failed(reject(http.StatusBadRequest, protocol.ReasonStatement, "the signed statement is not valid", err))
		return
	}
	inst, e := s.advance(ctx, id, now, &pendingSignature{statement: req.Statement, sig: sig})
	if e != nil {
		if e.status >= 500 || e.reason == ReasonOperationNotFound {
			failed(e)
		} else {
			s.fail(w, r, e) // advance audited the rejection with the state it stored
		}
		return
	}
	writeJSON(w, http.StatusOK, inst)
}

// pendingSignature is a verified statement on its way into an operation.
type pendingSignature struct {
	statement string
	sig       authz.Signature
}

// afterCommit is what applying an operation does outside the store:
// revoking a device's certificates, switching the policy.
type afterCommit struct {
	revokeDevice *store.Device
	newPolicy    *policy.Policy
	// pokeHub asks the hub to sync (rotate_intermediate drops the peers
	// whose certificates are from the retired intermediate).
	pokeHub bool
	// applied is set when the operation was applied in this transaction.
	applied bool
}

// advance re-evaluates operation id at now, with add when set, and stores
// the outcome in one transaction: the new signature (unless the engine
// voids it: then add's rejection is returned and nothing but the audit
// entry and a state change are stored), the state, the effect once
// approved, and one audit entry per hop.
func (s *Server) advance(ctx context.Context, id string, now time.Time, add *pendingSignature) (protocol.OperationInstance, *apiError) {
	var rejected *apiError
	var after afterCommit
	var roster []store.RosterEntry
	// What an effect needs from outside the operation is read before the
	// transaction, which must not wait for a second connection.
	var device *store.Device
	// events are the metrics events of the hops the transaction stores,
	// and sigRejected the reason of a voided signature: counted once it
	// commits.
	var events []string
	var sigRejected string
	if op, _, err := s.cfg.Store.Operation(ctx, id); err == nil && (op.Operation == protocol.OpRemoteLock || op.Operation == protocol.OpRemoteWipe) &&
		!authz.State(op.State).Terminal() {
		if d, err := s.cfg.Store.DeviceByID(ctx, op.Params[protocol.ParamDeviceID]); err == nil {
			device = &d
		}
	}
	// A read_recovery_key's escrowed key is opened before it too; a key
	// that does not open refuses the approval (nothing is stored).
	var ek *escrowedKey
	var ekErr *apiError
	if op, _, err := s.cfg.Store.Operation(ctx, id); err == nil && op.Operation == protocol.OpReadRecoveryKey && !authz.State(op.State).Terminal() {
		ek, ekErr = s.openEscrow(ctx, op.Params[protocol.ParamDeviceID])
	}
	op, sigs, err := s.cfg.Store.UpdateOperation(ctx, id, func(snap store.OperationSnapshot) (store.OperationUpdate, error) {
		rejected, after, roster = nil, afterCommit{}, snap.Roster
		events, sigRejected = nil, ""
		var up store.OperationUpdate
		req, sigs, err := authzRequest(snap.Operation, snap.Signatures)
		if err != nil {
			return up, err
		}
		eng := authz.NewEngine(s.currentPolicy(), authzRoster(snap.Roster))
		stored := authz.State(snap.Operation.State)
		rec := func(actor uint32, result, reason string) {
			up.Audit = append(up.Audit, store.AuditRecord{Time: now, Actor: actor, Operation: req.Operation,
				ParamsDigest: req.Digest, Result: result, Reason: reason})
		}
		if add != nil {
			if stored.Terminal() {
				rejected = reject(http.StatusConflict, ReasonOperationClosed,
					fmt.Sprintf("the operation is %s; request it again if it is still needed", stored), nil)
				rec(add.sig.Serial, resultRejected, ReasonOperationClosed)
				sigRejected = ReasonOperationClosed
				return up, nil
			}
			d := eng.Evaluate(req, append(slices.Clone(sigs), add.sig), now)
			res := d.Results[len(sigs)]
			if res.Reason != "" {
				rejected = signatureRejection(res)
				rec(add.sig.Serial, resultRejected, res.Reason)
				sigRejected = res.Reason
			} else {
				verified, err := json.Marshal(add.sig)
				if err != nil {
					return up, err
				}
				up.AddSignature = &store.OperationSignature{Statement: add.statement, Kind: string(res.Kind), Serial: add.sig.Serial,
					Admin: add.sig.Admin, Role: add.sig.Role, ReceivedAt: add.sig.Received, Verified: verified}
				rec(add.sig.Serial, resultSigned, string(res.Kind))
				events = append(events, metrics.EventSignatureAccepted)
				sigs = append(sigs, add.sig)
			}
		}
		if stored.Terminal() {
			return up, nil
		}
		d := eng.Evaluate(req, sigs, now)
		next, err := authz.Advance(stored, d)
		if err != nil {
			return up, err
		}
		up.State, up.Reason = string(next), d.Reason
		if next != stored {
			switch next {
			case authz.StateStaged:
				rec(0, resultStaged, d.Reason)
				events = append(events, metrics.EventStaged)
			case authz.StateCancelled:
				rec(sigs[d.CancelledBy].Serial, resultCancelled, d.Reason)
				events = append(events, metrics.EventCancelled)
			case authz.StateExpired:
				rec(0, resultExpired, d.Reason)
				events = append(events, metrics.EventExpired)
			case authz.StateRejected:
				rec(0, resultExpired, d.Reason)
				events = append(events, metrics.EventRejected)
			case authz.StatePending:
				rec(0, resultPending, d.Reason)
			}
		}
		if next == authz.StateApproved {
			if stored != authz.StateApproved {
				rec(0, resultApproved, "")
				events = append(events, metrics.EventApproved)
			}
			applied, err := authz.MarkApplied(d)
			if err != nil {
				return up, err
			}
			if ekErr != nil && snap.Operation.Operation == protocol.OpReadRecoveryKey {
				return up, ekErr
			}
			eff, text, ac, err := s.effect(snap, req, sigs, device, ek)
			if err != nil {
				return up, err
			}
			up.State, up.Reason, up.Effect, up.EffectText, after = string(applied), "", eff, text, ac
			after.applied = true
			rec(0, resultApplied, "")
			events = append(events, metrics.EventApplied)
			if eff != nil && eff.Command != nil {
				rec(0, resultCommandQueued, eff.Command.ID)
			}
		}
		return up, nil
	})
	if errors.Is(err, store.ErrNotFound) && op.ID == "" {
		return protocol.OperationInstance{}, reject(http.StatusNotFound, ReasonOperationNotFound,
			"no operation has this id; list them with kiwistack-enroll admin list", err)
	}
	if ae := (*apiError)(nil); errors.As(err, &ae) && ae.status < 500 {
		return protocol.OperationInstance{}, ae
	}
	if err != nil {
		return protocol.OperationInstance{}, reject(http.StatusInternalServerError, ReasonInternal,
			"the operation could not be evaluated; try again later", err)
	}
	if sigRejected != "" {
		s.cfg.Metrics.OperationSignatureRejected(op.Operation, sigRejected)
	}
	for _, ev := range events {
		s.cfg.Metrics.OperationEvent(op.Operation, ev)
	}
	s.afterApply(context.WithoutCancel(ctx), op, after)
	if after.applied {
		// The effect may have changed the roster the instance describes.
		if r, err := s.cfg.Store.RosterEntries(ctx); err == nil {
			roster = r
		}
	}
	if rejected != nil {
		return protocol.OperationInstance{}, rejected
	}
	return s.instance(op, sigs, roster, now), nil
}

// afterApply does what applying op needs outside the store.
func (s *Server) afterApply(ctx context.Context, op store.Operation, a afterCommit) {
	if a.newPolicy != nil {
		s.setPolicy(a.newPolicy)
		s.cfg.Metrics.InitOperations(slices.Collect(maps.Keys(a.newPolicy.Operations))...)
		s.log.Info("policy changed", "operation", op.ID, "sha256", op.Params[protocol.ParamDocumentSHA256])
	}
	if a.revokeDevice != nil {
		s.revokeDevice(ctx, a.revokeDevice, op)
	}
	if a.pokeHub && s.cfg.Tunnel != nil {
		s.cfg.Tunnel.Poke()
	}
}

// signatureRejection maps the engine's verdict on a new signature to an
// apiError.
func signatureRejection(res authz.Result) *apiError {
	status := http.StatusForbidden
	msg := res.Detail
	switch res.Reason {
	case authz.ReasonDuplicateKey, authz.ReasonCancelTooLate, authz.ReasonNotCancellable, authz.ReasonWindowExpired:
		status = http.StatusConflict
	case authz.ReasonWrongDigest, authz.ReasonWrongOperation:
		status = http.StatusBadRequest
		msg += "; fetch the operation again (kiwistack-enroll admin status ID) and sign what it shows"
	case authz.ReasonTimestampSkew:
		status = http.StatusUnauthorized
		msg += "; check the laptop's clock and sign again"
	}
	return reject(status, res.Reason, msg, nil)
}

// authzRequest rebuilds the engine's Request and Signatures of a stored
// operation.
func authzRequest(op store.Operation, stored []store.OperationSignature) (authz.Request, []authz.Signature, error) {
	var pol policy.Operation
	if err := json.Unmarshal(op.Policy, &pol); err != nil {
		return authz.Request{}, nil, fmt.Errorf("operation %s: stored policy: %w", op.ID, err)
	}
	req, err := authz.NewRequest(op.ID, protocol.Operation{ID: op.Operation, Tenant: op.Tenant, Nonce: op.Nonce, Params: op.Params},
		pol, op.CreatedAt, op.ExpiresAt)
	if err != nil {
		return req, nil, err
	}
	req.State = authz.State(op.State)
	sigs := make([]authz.Signature, 0, len(stored))
	for _, sg := range stored {
		var a authz.Signature
		if err := json.Unmarshal(sg.Verified, &a); err != nil {
			return req, nil, fmt.Errorf("operation %s: signature %d: %w", op.ID, sg.Seq, err)
		}
		sigs = append(sigs, a)
	}
	return req, sigs, nil
}

// authzRoster is the engine's view of the store's roster.
func authzRoster(entries []store.RosterEntry) authz.RosterMap {
	m := make(authz.RosterMap, len(entries))
	for _, e := range entries {
		m[e.Serial] = authz.RosterKey{SPKISHA256: strings.ToLower(e.SPKISHA256), Burned: e.Burned}
	}
	return m
}

// policyRoster is policy.LockoutCheck's view of the store's roster.
func policyRoster(entries []store.RosterEntry) []policy.RosterEntry {
	out := make([]policy.RosterEntry, 0, len(entries))
	for _, e := range entries {
		out = append(out, policy.RosterEntry{Serial: e.Serial, Admin: e.Admin, Role: e.Role, PublicKeySHA256: e.SPKISHA256, Burned: e.Burned})
	}
	return out
}

// instance is the wire form of op, evaluated at now (without storing).
func (s *Server) instance(op store.Operation, stored []store.OperationSignature, roster []store.RosterEntry, now time.Time) protocol.OperationInstance {
	inst := protocol.OperationInstance{
		ID: op.ID, Operation: op.Operation, Tenant: op.Tenant, Params: op.Params, Nonce: op.Nonce, Digest: op.Digest,
		CancelDigest: op.CancelDigest, State: op.State, Reason: op.Reason, RequiredRoles: []string{},
		CreatedAt: protocol.FormatTimestamp(op.CreatedAt), ExpiresAt: protocol.FormatTimestamp(op.ExpiresAt),
		Effect: op.Effect, Signatures: []protocol.OperationSignature{},
	}
	if inst.Params == nil {
		inst.Params = map[string]string{}
	}
	if spec, ok := operationSpecs[op.Operation]; ok {
		inst.Description = spec.describe(op.Params, op.Tenant, roster)
	} else {
		inst.Description = op.Operation + " in " + op.Tenant
	}
	if !op.AppliedAt.IsZero() {
		inst.AppliedAt = protocol.FormatTimestamp(op.AppliedAt)
	}
	req, sigs, err := authzRequest(op, stored)
	if err != nil {
		s.log.Error("reading a stored operation", "id", op.ID, "err", err)
		inst.Summary = op.State
		return inst
	}
	pol := s.currentPolicy()
	eng := authz.NewEngine(pol, authzRoster(roster))
	// What the challenge asks for: every role, as if nothing were signed.
	open := req
	open.State = authz.StatePending
	inst.RequiredRoles = append(inst.RequiredRoles, eng.Evaluate(open, nil, req.Created).MissingRoles...)
	inst.OperatorCosign, inst.Cancellable = req.Policy.OperatorCosign, req.Policy.Cancellable
	if req.Policy.Window > 0 {
		inst.Window = req.Policy.Window.String()
	}
	if req.Policy.Delay > 0 {
		inst.Delay = req.Policy.Delay.String()
	}
	d := eng.Evaluate(req, sigs, now)
	if req.State.Terminal() {
		// The engine does not look at a closed operation's signatures;
		// evaluating them as if open shows which counted.
		d2 := eng.Evaluate(open, sigs, now)
		d.Results, d.ApprovedAt, d.ApplyAt = d2.Results, d2.ApprovedAt, d2.ApplyAt
		if d.Reason == "" {
			d.Reason = op.Reason
		}
	}
	inst.Summary = d.Summary()
	inst.Missing, inst.OperatorMissing = d.Missing, d.OperatorMissing
	if !d.ApprovedAt.IsZero() {
		inst.ApprovedAt = protocol.FormatTimestamp(d.ApprovedAt)
		inst.ApplyAt = protocol.FormatTimestamp(d.ApplyAt)
	}
	if !d.ExpiresAt.IsZero() && !req.State.Terminal() {
		inst.ExpiresAt = protocol.FormatTimestamp(d.ExpiresAt)
	}
	for i, sg := range stored {
		os := protocol.OperationSignature{Serial: sg.Serial, Admin: sg.Admin, Role: sg.Role, Kind: sg.Kind,
			ReceivedAt: protocol.FormatTimestamp(sg.ReceivedAt)}
		if i < len(d.Results) {
			os.Counted, os.Reason = d.Results[i].Counted, d.Results[i].Reason
		}
		inst.Signatures = append(inst.Signatures, os)
	}
	if op.Operation == protocol.OpBurnKey || op.Operation == protocol.OpRemoveAdmin {
		for _, l := range policy.LockoutCheck(pol, policyRoster(roster)) {
			inst.Lockouts = append(inst.Lockouts, l.String())
		}
	}
	return inst
}

// handleAudit answers GET /v1/audit?after=N: the entries after N, a page at
// a time, with their hashes, so that a client verifies the chain
// (protocol.VerifyAuditChain). It needs a read_audit grant (reads.go).
func (s *Server) handleAudit(w http.ResponseWriter, r *http.Request) {
	if e := s.requireRead(r, protocol.OpReadAudit); e != nil {
		s.fail(w, r, e)
		return
	}
	after := int64(0)
	if q := r.URL.Query().Get("after"); q != "" {
		n, err := strconv.ParseInt(q, 10, 64)
		if err != nil || n < 0 {
			s.fail(w, r, reject(http.StatusBadRequest, protocol.ReasonMalformed, "after must be a sequence number (0 or more)", err))
			return
		}
		after = n
	}
	entries, err := s.cfg.Store.AuditEntries(r.Context(), after, auditPageSize+1)
	if err != nil {
		s.fail(w, r, reject(http.StatusInternalServerError, ReasonInternal, "the audit log could not be read; try again later", err))
		return
	}
	page := protocol.AuditPage{Entries: []protocol.AuditEntry{}}
	if len(entries) > auditPageSize {
		entries, page.More = entries[:auditPageSize], true
	}
	for _, e := range entries {
		page.Entries = append(page.Entries, e.ToProtocol())
	}
	writeJSON(w, http.StatusOK, page)
}
