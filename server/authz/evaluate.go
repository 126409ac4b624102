package authz

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/kiwistack/endpoint/server/policy"
)

// Reason codes of a signature the engine does not count (Result.Reason).
const (
	ReasonDuplicateKey     = "duplicate_key"     // same SPKI or same YubiKey serial as a signature already counted
	ReasonRoleInsufficient = "role_insufficient" // the certificate's role does not meet the requirement
	ReasonKeyBurned        = "key_burned"        // the serial is burned (also when burned after signing)
	ReasonUnknownKey       = "unknown_key"       // the serial is not in the tenant's roster
	ReasonKeyMismatch      = "key_mismatch"      // the certificate's key is not the one registered for the serial
	ReasonWindowExpired    = "window_expired"    // received after the window opened by the first signature closed
	ReasonWrongDigest      = "wrong_digest"      // signs another digest than the request's
	ReasonWrongOperation   = "wrong_operation"   // names another operation
	ReasonForeignTenant    = "foreign_tenant"    // statement or certificate of another tenant
	ReasonTimestampSkew    = "timestamp_skew"    // statement time more than MaxSkew from its receipt
	ReasonNotCancellable   = "not_cancellable"   // a cancel of an operation that is not cancellable
	ReasonCancelTooLate    = "cancel_too_late"   // a cancel received once the delay was over
	ReasonNotYetReceived   = "not_yet_received"  // received after the evaluation's now: evaluated later
)

// Reason codes of a Decision (Decision.Reason).
const (
	ReasonSignaturesMissing     = "signatures_missing"      // pending: signatures missing
	ReasonOperatorCosignMissing = "operator_cosign_missing" // pending or staged: the operator co-signature is missing
	ReasonDelayRunning          = "delay_running"           // staged until ApplyAt
	ReasonCancelled             = "cancelled"               // cancelled by an admin
	ReasonChallengeExpired      = "challenge_expired"       // expired: Request.Expires passed before approval
	ReasonPolicyInvalid         = "policy_invalid"          // rejected: the policy operation cannot be satisfied by any key
	// An expired decision whose window closed carries ReasonWindowExpired.
)

// Reasons returns every reason code, signature codes first, for the API's
// documentation and tests.
func Reasons() []string {
	return append(SignatureReasons(),
		ReasonSignaturesMissing, ReasonOperatorCosignMissing, ReasonDelayRunning, ReasonCancelled,
		ReasonChallengeExpired, ReasonPolicyInvalid,
	)
}

// SignatureReasons returns the reason codes of a refused signature.
func SignatureReasons() []string {
	return []string{
		ReasonDuplicateKey, ReasonRoleInsufficient, ReasonKeyBurned, ReasonUnknownKey, ReasonKeyMismatch,
		ReasonWindowExpired, ReasonWrongDigest, ReasonWrongOperation, ReasonForeignTenant, ReasonTimestampSkew,
		ReasonNotCancellable, ReasonCancelTooLate, ReasonNotYetReceived,
	}
}

// Kind says what a signature asks for.
type Kind string

// The kinds of signature.
const (
	KindApproval Kind = "approval" // an admin's approval
	KindOperator Kind = "operator" // a KiwiStack operator's co-signature
	KindCancel   Kind = "cancel"   // an admin's cancel
)

// Result is the engine's verdict on one signature.
type Result struct {
	// Index is the signature's index in the slice given to Evaluate.
	Index  int
	Serial uint32
	Kind   Kind
	// Counted is set for the signatures the decision rests on: the
	// approvals assigned to a required role, the operator co-signature,
	// the cancel.
	Counted bool
	// Reason is a reason code when the signature is void, "" when it is
	// valid (a valid signature that is not counted is surplus).
	Reason string
	// Detail says why in words.
	Detail string
}

// Decision is the outcome of Evaluate.
type Decision struct {
	State State
	// Reason is the decision's reason code: ReasonSignaturesMissing,
	// ReasonOperatorCosignMissing, ReasonDelayRunning, ReasonCancelled,
	// ReasonWindowExpired, ReasonChallengeExpired, ReasonPolicyInvalid, or
	// "" for approved and for a terminal state given in the Request.
	Reason string
	// Missing says what is still needed, in words, e.g. "1 signature from
	// a key of role founder or above".
	Missing []string
	// MissingRoles has one entry per missing tenant signature: the least
	// role that fills it (policy.AnyRole for any).
	MissingRoles []string
	// OperatorMissing is set when the operator co-signature is needed and
	// absent.
	OperatorMissing bool
	// ApprovedAt is the receipt time of the signature that completed the
	// tenant's signatures; ApplyAt is ApprovedAt plus the delay. Both zero
	// until then.
	ApprovedAt, ApplyAt time.Time
	// ExpiresAt is when a pending operation expires (the end of the window
	// opened by the first signature, or Request.Expires, whichever comes
	// first); zero for none.
	ExpiresAt time.Time
	// CancelledBy is the index of the counted cancel signature, or -1.
	CancelledBy int
	// Results has one entry per signature, in the order given.
	Results []Result
}

// Rejections returns the results of the void signatures.
func (d Decision) Rejections() []Result {
	var out []Result
	for _, r := range d.Results {
		if r.Reason != "" {
			out = append(out, r)
		}
	}
	return out
}

// Summary says the decision in words, for the CLI and the audit log.
func (d Decision) Summary() string {
	switch d.State {
	case StatePending, StateExpired:
		if len(d.Missing) > 0 {
			return fmt.Sprintf("%s (%s): missing %s", d.State, d.Reason, strings.Join(d.Missing, " and "))
		}
	case StateStaged:
		s := "staged until " + d.ApplyAt.UTC().Format(time.RFC3339)
		if d.OperatorMissing {
			s += ", and waiting for a KiwiStack operator co-signature"
		}
		return s
	}
	if d.Reason != "" {
		return fmt.Sprintf("%s (%s)", d.State, d.Reason)
	}
	return string(d.State)
}

// Engine evaluates operations under one tenant's policy and roster.
type Engine struct {
	policy *policy.Policy
	roster Roster
}

// NewEngine returns the engine of policy p (for its role order) and roster
// r, consulted at every evaluation so that a burn applies at once.
func NewEngine(p *policy.Policy, r Roster) *Engine {
	return &Engine{policy: p, roster: r}
}

// errPolicy reports a policy operation no key can satisfy.
var errPolicy = errors.New("policy operation cannot be satisfied")

// slot is one required tenant signature: rank is the least senior role
// index that fills it, name how the policy names it.
type slot struct {
	rank int
	name string
}

// slots returns the required tenant signatures of op, most demanding first.
func (e *Engine) slots(op policy.Operation) ([]slot, error) {
	roles := e.policy.Roles
	if len(roles) == 0 {
		return nil, fmt.Errorf("%w: the policy lists no roles", errPolicy)
	}
	if op.SigsRequired < 1 || op.SigsRequired > 64 {
		return nil, fmt.Errorf("%w: sigs_required %d", errPolicy, op.SigsRequired)
	}
	var out []slot
	switch {
	case len(op.Roles) > 0:
		lowest := slot{rank: -1}
		for _, name := range op.Roles {
			r := slices.Index(roles, name)
			if r < 0 {
				return nil, fmt.Errorf("%w: unknown role %q", errPolicy, name)
			}
			out = append(out, slot{r, name})
			if r > lowest.rank {
				lowest = slot{r, name}
			}
		}
		for len(out) < op.SigsRequired {
			out = append(out, lowest)
		}
	case op.Role == policy.AnyRole:
		for range op.SigsRequired {
			out = append(out, slot{len(roles) - 1, policy.AnyRole})
		}
	default:
		r := slices.Index(roles, op.Role)
		if r < 0 {
			return nil, fmt.Errorf("%w: unknown role %q", errPolicy, op.Role)
		}
		for range op.SigsRequired {
			out = append(out, slot{r, op.Role})
		}
	}
	slices.SortStableFunc(out, func(a, b slot) int { return a.rank - b.rank })
	return out, nil
}

// Evaluate decides the state of req given every signature collected for it
// (approvals, operator co-signatures and cancels, in any order) at time
// now. It is deterministic and cheap; call it again whenever a signature
// arrives, the roster changes (a burn) or time passes (a delay ends).
// Evaluate(req, nil, now) describes what the challenge of hop 03 asks for:
// MissingRoles, Missing in words, and OperatorMissing.
func (e *Engine) Evaluate(req Request, sigs []Signature, now time.Time) Decision {
	d := Decision{State: req.State, CancelledBy: -1, Results: make([]Result, len(sigs))}
	if d.State == "" {
		d.State = StatePending
	}
	for i, s := range sigs {
		k := KindApproval
		switch {
		case s.Cancel:
			k = KindCancel
		case s.Operator:
			k = KindOperator
		}
		d.Results[i] = Result{Index: i, Serial: s.Serial, Kind: k}
	}
	if d.State.Terminal() {
		return d
	}
	op := req.Policy
	slots, err := e.slots(op)
	if err != nil {
		d.State, d.Reason, d.Missing = StateRejected, ReasonPolicyInvalid, []string{err.Error()}
		return d
	}
	minRank := slots[len(slots)-1].rank // the least demanding slot

	order := make([]int, len(sigs))
	for i := range order {
		order[i] = i
	}
	slices.SortStableFunc(order, func(a, b int) int { return sigs[a].Received.Compare(sigs[b].Received) })

	// Pass 1: void what fails on its own, keep distinct keys, apply the window.
	seenSPKI := map[string]bool{}
	seenSerial := map[uint32]bool{}
	var approvals, operators, cancels []int
	var anchor time.Time
	opened := false
	for _, i := range order {
		s := &sigs[i]
		res := &d.Results[i]
		if s.Received.After(now) {
			res.Reason, res.Detail = ReasonNotYetReceived, "received after the time of this evaluation"
			continue
		}
		if reason, detail := e.check(req, s, res.Kind, minRank); reason != "" {
			res.Reason, res.Detail = reason, detail
			continue
		}
		if res.Kind == KindCancel {
			cancels = append(cancels, i)
			continue
		}
		spki := strings.ToLower(s.SPKISHA256)
		if seenSPKI[spki] || seenSerial[s.Serial] {
			res.Reason, res.Detail = ReasonDuplicateKey, "this key already signed this operation; another key must sign"
			continue
		}
		if res.Kind == KindOperator {
			seenSPKI[spki], seenSerial[s.Serial] = true, true
			operators = append(operators, i)
			continue
		}
		if !opened {
			anchor, opened = s.Received, true
		} else if op.Window > 0 && s.Received.After(anchor.Add(op.Window)) {
			res.Reason = ReasonWindowExpired
			res.Detail = fmt.Sprintf("received %s after the first signature; the window is %s", s.Received.Sub(anchor), op.Window)
			continue
		}
		seenSPKI[spki], seenSerial[s.Serial] = true, true
		approvals = append(approvals, i)
	}

	// Pass 2: assign approvals to the required roles (bipartite matching,
	// augmenting paths), in receipt order, until every role is filled.
	match := make([]int, len(slots)) // slot -> signature index, -1 when open
	for j := range match {
		match[j] = -1
	}
	rank := func(i int) int { return slices.Index(e.policy.Roles, sigs[i].Role) }
	var augment func(i int, seen []bool) bool
	augment = func(i int, seen []bool) bool {
		r := rank(i)
		for j, sl := range slots {
			if seen[j] || r > sl.rank {
				continue
			}
			seen[j] = true
			if match[j] < 0 || augment(match[j], seen) {
				match[j] = i
				return true
			}
		}
		return false
	}
	filled := 0
	approved := false
	for _, i := range approvals {
		if augment(i, make([]bool, len(slots))) {
			filled++
			if filled == len(slots) {
				approved, d.ApprovedAt = true, sigs[i].Received
				break
			}
		}
	}
	for _, i := range match {
		if i >= 0 {
			d.Results[i].Counted = true
		}
	}
	if approved {
		d.ApplyAt = d.ApprovedAt.Add(op.Delay)
	}

	// Cancels: the first valid one received before the delay ended.
	for _, i := range cancels {
		if approved && !sigs[i].Received.Before(d.ApplyAt) {
			d.Results[i].Reason = ReasonCancelTooLate
			d.Results[i].Detail = "the delay ended at " + d.ApplyAt.UTC().Format(time.RFC3339) + "; the operation can no longer be cancelled"
			continue
		}
		if d.CancelledBy < 0 {
			d.CancelledBy = i
			d.Results[i].Counted = true
		}
	}
	if d.CancelledBy >= 0 {
		d.State, d.Reason = StateCancelled, ReasonCancelled
		return d
	}

	haveOperator := false
	if op.OperatorCosign && len(operators) > 0 {
		haveOperator = true
		d.Results[operators[0]].Counted = true
	}
	d.OperatorMissing = op.OperatorCosign && !haveOperator

	if !approved {
		for j, sl := range slots {
			if match[j] < 0 {
				d.MissingRoles = append(d.MissingRoles, sl.name)
			}
		}
		d.Missing = e.missingWords(slots, match)
		if d.OperatorMissing {
			d.Missing = append(d.Missing, "a KiwiStack operator co-signature")
		}
		if opened && op.Window > 0 {
			d.ExpiresAt = anchor.Add(op.Window)
		}
		if !req.Expires.IsZero() && (d.ExpiresAt.IsZero() || req.Expires.Before(d.ExpiresAt)) {
			d.ExpiresAt = req.Expires
		}
		d.State, d.Reason = StatePending, ReasonSignaturesMissing
		switch {
		case !req.Expires.IsZero() && !now.Before(req.Expires):
			d.State, d.Reason = StateExpired, ReasonChallengeExpired
		case opened && op.Window > 0 && now.After(anchor.Add(op.Window)):
			d.State, d.Reason = StateExpired, ReasonWindowExpired
		}
		return d
	}
	if d.OperatorMissing {
		d.Missing = []string{"a KiwiStack operator co-signature"}
		d.Reason = ReasonOperatorCosignMissing
		if op.Delay > 0 {
			d.State = StateStaged
			return d
		}
		d.State, d.ExpiresAt = StatePending, req.Expires
		if !req.Expires.IsZero() && !now.Before(req.Expires) {
			d.State, d.Reason = StateExpired, ReasonChallengeExpired
		}
		return d
	}
	if now.Before(d.ApplyAt) {
		d.State, d.Reason = StateStaged, ReasonDelayRunning
		return d
	}
	d.State, d.Reason = StateApproved, ""
	return d
}

// check returns the reason a signature is void on its own, and words.
func (e *Engine) check(req Request, s *Signature, kind Kind, minRank int) (reason, detail string) {
	if s.Tenant != req.Tenant || (!s.Operator && s.CertTenant != req.Tenant) {
		return ReasonForeignTenant, fmt.Sprintf("statement of tenant %q, certificate of %q; this operation is of %q", s.Tenant, s.CertTenant, req.Tenant)
	}
	wantOp, wantDigest := req.Operation, req.Digest
	if kind == KindCancel {
		wantOp, wantDigest = CancelOperation, req.CancelDigest
	}
	if s.Operation != wantOp {
		return ReasonWrongOperation, fmt.Sprintf("signs %q, want %q", s.Operation, wantOp)
	}
	if s.Digest != wantDigest {
		return ReasonWrongDigest, "signs another digest than this operation's; sign the current challenge"
	}
	if skew := s.Signed.Sub(s.Received); skew > MaxSkew || skew < -MaxSkew {
		return ReasonTimestampSkew, fmt.Sprintf("statement time is %s from its receipt, more than %s", skew, MaxSkew)
	}
	if kind == KindCancel && !req.Policy.Cancellable {
		return ReasonNotCancellable, req.Operation + " is not cancellable"
	}
	if s.Operator {
		if kind == KindCancel {
			return ReasonRoleInsufficient, "an operator does not cancel; an admin of the tenant does"
		}
		return "", ""
	}
	k, ok := e.roster.Key(s.Serial)
	switch {
	case !ok:
		return ReasonUnknownKey, fmt.Sprintf("YubiKey %d is not in the tenant's roster", s.Serial)
	case k.Burned:
		return ReasonKeyBurned, fmt.Sprintf("YubiKey %d was burned; its signatures are void", s.Serial)
	case k.SPKISHA256 != "" && !strings.EqualFold(k.SPKISHA256, s.SPKISHA256):
		return ReasonKeyMismatch, fmt.Sprintf("the certificate's key is not the one registered for YubiKey %d", s.Serial)
	}
	r := slices.Index(e.policy.Roles, s.Role)
	if r < 0 || r > minRank {
		return ReasonRoleInsufficient, fmt.Sprintf("role %q does not meet %s", s.Role, e.roleWords(minRank))
	}
	return "", ""
}

// roleWords names the requirement of a rank.
func (e *Engine) roleWords(rank int) string {
	if rank >= len(e.policy.Roles)-1 {
		return "any role"
	}
	return "role " + e.policy.Roles[rank] + " or above"
}

// missingWords says which open slots remain, grouped by role.
func (e *Engine) missingWords(slots []slot, match []int) []string {
	var out []string
	for j := 0; j < len(slots); {
		n, k := 0, j
		for ; k < len(slots) && slots[k].rank == slots[j].rank; k++ {
			if match[k] < 0 {
				n++
			}
		}
		if n > 0 {
			noun := "signature from a key of "
			if n > 1 {
				noun = "signatures from distinct keys of "
			}
			out = append(out, fmt.Sprintf("%d %s%s", n, noun, e.roleWords(slots[j].rank)))
		}
		j = k
	}
	return out
}
