package authz

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/kiwistack/endpoint/enroll/protocol"
	"github.com/kiwistack/endpoint/server/policy"
)

const tenant = "acme-corp"

// t0 is when the test requests are created.
var t0 = time.Date(2026, 11, 28, 9, 0, 0, 0, time.UTC)

// key is a test admin key.
type key struct {
	serial uint32
	role   string
}

// keys of the test roster; operatorKey is a KiwiStack operator's.
var (
	founder1    = key{1001, "founder"}
	founder2    = key{1002, "founder"}
	sysadmin1   = key{2001, "sysadmin"}
	sysadmin2   = key{2002, "sysadmin"}
	officeMgr1  = key{3001, "office-mgr"}
	officeMgr2  = key{3002, "office-mgr"}
	operatorKey = key{9001, "operator"}
	allKeys     = []key{founder1, founder2, sysadmin1, sysadmin2, officeMgr1, officeMgr2}
)

func (k key) spki() string { return fmt.Sprintf("%064x", k.serial) }

// testRoster returns the roster of allKeys with the given serials burned.
func testRoster(burned ...uint32) RosterMap {
	m := RosterMap{}
	for _, k := range allKeys {
		m[k.serial] = RosterKey{SPKISHA256: k.spki(), Burned: slices.Contains(burned, k.serial)}
	}
	return m
}

// testRequest returns a request of op under the default policy.
func testRequest(t testing.TB, op string) Request {
	t.Helper()
	pol, ok := policy.Default(tenant).Operations[op]
	if !ok {
		t.Fatalf("no operation %s in the default policy", op)
	}
	r, err := NewRequest("req-"+op, protocol.Operation{ID: op, Tenant: tenant, Nonce: "AAAAAAAAAAAAAAAAAAAAAA",
		Params: map[string]string{"target": "x"}}, pol, t0, time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// approve returns k's approval of r received at t.
func approve(r Request, k key, at time.Time) Signature {
	return Signature{Serial: k.serial, Admin: fmt.Sprint("admin ", k.serial), Role: k.role, SPKISHA256: k.spki(),
		CertTenant: tenant, Tenant: r.Tenant, Operation: r.Operation, Digest: r.Digest,
		Signed: at, Received: at, Operator: k == operatorKey}
}

// cancel returns k's cancel of r received at t.
func cancel(r Request, k key, at time.Time) Signature {
	s := approve(r, k, at)
	s.Operation, s.Digest, s.Cancel = CancelOperation, r.CancelDigest, true
	return s
}

// signers returns keys that satisfy op's tenant signatures exactly, in
// the order a careful admin team would sign: one key per listed role, then
// keys of the least role.
func signers(t testing.TB, op policy.Operation) []key {
	t.Helper()
	byRole := map[string][]key{}
	for _, k := range allKeys {
		byRole[k.role] = append(byRole[k.role], k)
	}
	var out []key
	take := func(role string) {
		if role == policy.AnyRole {
			role = "office-mgr"
		}
		for _, k := range byRole[role] {
			if !slices.Contains(out, k) {
				out = append(out, k)
				return
			}
		}
		t.Fatalf("no free key of role %s", role)
	}
	least := op.Role
	for _, r := range op.Roles {
		take(r)
		least = r
	}
	for len(out) < op.SigsRequired {
		take(least)
	}
	return out
}

// lower returns a role below every signer requirement of op, or "" when
// op accepts any role (then an unknown role is too low).
func lower(op policy.Operation) string {
	req := op.Role
	if len(op.Roles) > 0 {
		req = op.Roles[len(op.Roles)-1]
	}
	switch req {
	case policy.AnyRole, "office-mgr":
		return ""
	}
	return "office-mgr"
}

// wantReason asserts that some signature result has reason.
func wantReason(t *testing.T, d Decision, reason string) {
	t.Helper()
	for _, r := range d.Results {
		if r.Reason == reason {
			return
		}
	}
	t.Errorf("no signature rejected with %s: %+v", reason, d.Results)
}

// wantState asserts d's state and reason.
func wantState(t *testing.T, d Decision, state State, reason string) {
	t.Helper()
	if d.State != state || d.Reason != reason {
		t.Errorf("decision %s/%q, want %s/%q (%s; results %+v)", d.State, d.Reason, state, reason, d.Summary(), d.Results)
	}
}

// TestDefaultOperations plays every way to satisfy and to fall short of
// every operation of the default policy.
func TestDefaultOperations(t *testing.T) {
	p := policy.Default(tenant)
	names := slices.Sorted(maps.Keys(p.Operations))
	if len(names) != 20 {
		t.Fatalf("the default policy has %d operations, the table expects 20", len(names))
	}
	for _, name := range names {
		op := p.Operations[name]
		t.Run(name, func(t *testing.T) {
			eng := NewEngine(p, testRoster())
			req := testRequest(t, name)
			ks := signers(t, op)
			// Signatures one minute apart, the operator last.
			full := func() []Signature {
				var s []Signature
				for i, k := range ks {
					s = append(s, approve(req, k, t0.Add(time.Duration(i+1)*time.Minute)))
				}
				if op.OperatorCosign {
					s = append(s, approve(req, operatorKey, t0.Add(time.Duration(len(ks)+1)*time.Minute)))
				}
				return s
			}
			last := t0.Add(time.Duration(len(ks)) * time.Minute) // receipt of the last tenant signature
			now := t0.Add(time.Duration(len(ks)+2) * time.Minute)

			t.Run("satisfied", func(t *testing.T) {
				d := eng.Evaluate(req, full(), now)
				if !d.ApprovedAt.Equal(last) || !d.ApplyAt.Equal(last.Add(op.Delay)) {
					t.Errorf("approved at %s apply at %s, want %s and +%s", d.ApprovedAt, d.ApplyAt, last, op.Delay)
				}
				if op.Delay > 0 {
					wantState(t, d, StateStaged, ReasonDelayRunning)
				} else {
					wantState(t, d, StateApproved, "")
				}
				counted := 0
				for _, r := range d.Results {
					if r.Reason != "" {
						t.Errorf("signature %d rejected: %s", r.Index, r.Reason)
					}
					if r.Counted {
						counted++
					}
				}
				if want := len(full()); counted != want {
					t.Errorf("%d signatures counted, want %d", counted, want)
				}
			})
			t.Run("applied after delay", func(t *testing.T) {
				apply := last.Add(op.Delay)
				if op.Delay > 0 {
					d := eng.Evaluate(req, full(), apply.Add(-time.Second))
					wantState(t, d, StateStaged, ReasonDelayRunning)
				}
				if apply.Before(now) { // the operator signs after the tenant
					apply = now
				}
				d := eng.Evaluate(req, full(), apply)
				wantState(t, d, StateApproved, "")
				st, err := Advance(StatePending, d)
				if err == nil {
					st, err = MarkApplied(d)
				}
				if err != nil || st != StateApplied {
					t.Fatalf("applying: %s, %v", st, err)
				}
				req2 := req
				req2.State = st
				if d := eng.Evaluate(req2, full(), apply.Add(time.Hour)); d.State != StateApplied {
					t.Errorf("re-evaluating an applied operation: %s", d.State)
				}
			})
			t.Run("one signature missing", func(t *testing.T) {
				sigs := full()
				sigs = slices.Delete(sigs, len(ks)-1, len(ks))
				d := eng.Evaluate(req, sigs, now)
				wantState(t, d, StatePending, ReasonSignaturesMissing)
				if len(d.MissingRoles) != 1 || len(d.Missing) == 0 || !strings.Contains(d.Missing[0], "1 signature") {
					t.Errorf("missing %q %q", d.MissingRoles, d.Missing)
				}
			})
			t.Run("same key twice", func(t *testing.T) {
				sigs := full()
				dup := approve(req, ks[0], t0.Add(90*time.Second))
				if len(ks) == 1 {
					sigs = append(sigs, dup)
					d := eng.Evaluate(req, sigs, now.Add(op.Delay))
					wantState(t, d, StateApproved, "")
					wantReason(t, d, ReasonDuplicateKey)
					return
				}
				sigs[len(ks)-1] = dup
				d := eng.Evaluate(req, sigs, now)
				wantState(t, d, StatePending, ReasonSignaturesMissing)
				wantReason(t, d, ReasonDuplicateKey)
				// Another certificate of the same key (same SPKI, other serial) is the same key.
				sigs[len(ks)-1] = approve(req, ks[len(ks)-1], last)
				sigs[len(ks)-1].SPKISHA256 = ks[0].spki()
				d = eng.Evaluate(req, sigs, now)
				if d.State == StateApproved || d.State == StateStaged {
					t.Errorf("approved with the same public key twice")
				}
			})
			t.Run("role too low", func(t *testing.T) {
				sigs := full()
				low := lower(op)
				sigs[len(ks)-1].Role = low
				if low == "" {
					sigs[len(ks)-1].Role = "intern"
				} else {
					// The roster's key of that role, so only the role is wrong.
					k := officeMgr1
					if slices.Contains(ks, k) {
						k = officeMgr2
					}
					sigs[len(ks)-1] = approve(req, k, last)
				}
				d := eng.Evaluate(req, sigs, now)
				wantState(t, d, StatePending, ReasonSignaturesMissing)
				wantReason(t, d, ReasonRoleInsufficient)
			})
			t.Run("burned key", func(t *testing.T) {
				burnt := NewEngine(p, testRoster(ks[0].serial))
				d := burnt.Evaluate(req, full(), now)
				wantState(t, d, StatePending, ReasonSignaturesMissing)
				wantReason(t, d, ReasonKeyBurned)
			})
			t.Run("burned after signing", func(t *testing.T) {
				roster := testRoster()
				e := NewEngine(p, roster)
				if d := e.Evaluate(req, full(), now); d.State != StateApproved && d.State != StateStaged {
					t.Fatalf("before the burn: %s", d.Summary())
				}
				roster[ks[len(ks)-1].serial] = RosterKey{SPKISHA256: ks[len(ks)-1].spki(), Burned: true}
				d := e.Evaluate(req, full(), now)
				wantReason(t, d, ReasonKeyBurned)
				if d.State != StatePending && d.State != StateExpired {
					t.Errorf("after the burn: %s", d.Summary())
				}
				if _, err := Advance(StateStaged, d); err != nil {
					t.Errorf("a staged operation must fall back when its signer is burned: %v", err)
				}
			})
			t.Run("expired", func(t *testing.T) {
				if op.Window > 0 {
					sigs := full()
					late := ks[len(ks)-1]
					at := t0.Add(time.Minute + op.Window + time.Second)
					sigs[len(ks)-1] = approve(req, late, at)
					d := eng.Evaluate(req, sigs, at)
					wantState(t, d, StateExpired, ReasonWindowExpired)
					wantReason(t, d, ReasonWindowExpired)
					// Exactly at the end of the window still counts.
					sigs[len(ks)-1] = approve(req, late, t0.Add(time.Minute+op.Window))
					if d := eng.Evaluate(req, sigs, now.Add(op.Window+op.Delay)); d.State != StateApproved {
						t.Errorf("signature at the end of the window: %s", d.Summary())
					}
				}
				r := req
				r.Expires = t0.Add(30 * time.Second)
				d := eng.Evaluate(r, nil, t0.Add(time.Minute))
				wantState(t, d, StateExpired, ReasonChallengeExpired)
				if d := eng.Evaluate(r, nil, t0.Add(10*time.Second)); d.State != StatePending || !d.ExpiresAt.Equal(r.Expires) {
					t.Errorf("before the challenge's end: %s, expires %s", d.Summary(), d.ExpiresAt)
				}
			})
			t.Run("foreign tenant", func(t *testing.T) {
				for _, mut := range []func(*Signature){
					func(s *Signature) { s.Tenant = "evil-corp" },
					func(s *Signature) { s.CertTenant = "evil-corp" },
				} {
					sigs := full()
					mut(&sigs[0])
					d := eng.Evaluate(req, sigs, now)
					wantState(t, d, StatePending, ReasonSignaturesMissing)
					wantReason(t, d, ReasonForeignTenant)
				}
			})
			t.Run("different digest", func(t *testing.T) {
				other := req.ProtocolOperation()
				other.Params = map[string]string{"target": "y"}
				dg, err := other.Digest()
				if err != nil {
					t.Fatal(err)
				}
				sigs := full()
				sigs[0].Digest = dg
				d := eng.Evaluate(req, sigs, now)
				wantState(t, d, StatePending, ReasonSignaturesMissing)
				wantReason(t, d, ReasonWrongDigest)
			})
			t.Run("statement time far from receipt", func(t *testing.T) {
				sigs := full()
				sigs[0].Signed = sigs[0].Received.Add(-MaxSkew - time.Second)
				d := eng.Evaluate(req, sigs, now)
				wantState(t, d, StatePending, ReasonSignaturesMissing)
				wantReason(t, d, ReasonTimestampSkew)
			})
			t.Run("operator co-sign missing", func(t *testing.T) {
				sigs := full()
				if !op.OperatorCosign {
					// An operator alone never approves.
					d := eng.Evaluate(req, []Signature{approve(req, operatorKey, t0)}, t0)
					wantState(t, d, StatePending, ReasonSignaturesMissing)
					return
				}
				sigs = sigs[:len(ks)]
				d := eng.Evaluate(req, sigs, now.Add(op.Delay+time.Hour))
				if !d.OperatorMissing || d.Reason != ReasonOperatorCosignMissing {
					t.Errorf("%s", d.Summary())
				}
				if d.State == StateApproved {
					t.Errorf("approved without the operator")
				}
				// An operator signature of another digest does not count.
				bad := approve(req, operatorKey, now)
				bad.Digest = req.CancelDigest
				d = eng.Evaluate(req, append(sigs, bad), now.Add(op.Delay+time.Hour))
				wantReason(t, d, ReasonWrongDigest)
				if d.State == StateApproved {
					t.Errorf("approved with an operator signature of another digest")
				}
			})
			t.Run("cancel", func(t *testing.T) {
				canceller := sysadmin2
				if lower(op) == "" {
					canceller = officeMgr2
				}
				if op.Role == "founder" {
					canceller = founder2
				}
				during := last.Add(op.Delay / 2)
				sigs := append(full(), cancel(req, canceller, during))
				d := eng.Evaluate(req, sigs, last.Add(op.Delay+time.Hour))
				if !op.Cancellable {
					wantReason(t, d, ReasonNotCancellable)
					wantState(t, d, StateApproved, "")
					return
				}
				wantState(t, d, StateCancelled, ReasonCancelled)
				if d.CancelledBy != len(sigs)-1 {
					t.Errorf("cancelled by %d", d.CancelledBy)
				}
				if _, err := Advance(StateStaged, d); err != nil {
					t.Error(err)
				}
				// By a role too low: refused.
				low := cancel(req, officeMgr1, during)
				d = eng.Evaluate(req, append(full(), low), during)
				wantState(t, d, StateStaged, ReasonDelayRunning)
				wantReason(t, d, ReasonRoleInsufficient)
				// By a burned key: refused.
				d = NewEngine(p, testRoster(canceller.serial)).Evaluate(req, sigs, during)
				wantState(t, d, StateStaged, ReasonDelayRunning)
				wantReason(t, d, ReasonKeyBurned)
				// By an operator: refused.
				d = eng.Evaluate(req, append(full(), cancel(req, operatorKey, during)), during)
				wantState(t, d, StateStaged, ReasonDelayRunning)
				wantReason(t, d, ReasonRoleInsufficient)
				// Over the approval digest: not a cancel.
				c := cancel(req, canceller, during)
				c.Digest = req.Digest
				d = eng.Evaluate(req, append(full(), c), during)
				wantReason(t, d, ReasonWrongDigest)
				// Once the delay is over: too late.
				late := cancel(req, canceller, last.Add(op.Delay))
				d = eng.Evaluate(req, append(full(), late), last.Add(op.Delay))
				wantState(t, d, StateApproved, "")
				wantReason(t, d, ReasonCancelTooLate)
			})
		})
	}
}

func TestMatching(t *testing.T) {
	p := policy.Default(tenant)
	p.Roles = append(p.Roles, "intern")
	at := func(i int) time.Time { return t0.Add(time.Duration(i) * time.Second) }
	tests := []struct {
		name    string
		op      policy.Operation
		keys    []key
		want    State
		missing []string
	}{
		{"founder and sysadmin", policy.Operation{SigsRequired: 2, Roles: []string{"founder", "sysadmin"}},
			[]key{sysadmin1, founder1}, StateApproved, nil},
		{"two founders fill founder and sysadmin", policy.Operation{SigsRequired: 2, Roles: []string{"founder", "sysadmin"}},
			[]key{founder1, founder2}, StateApproved, nil},
		{"two sysadmins do not", policy.Operation{SigsRequired: 2, Roles: []string{"founder", "sysadmin"}},
			[]key{sysadmin1, sysadmin2}, StatePending, []string{"founder"}},
		{"founder alone", policy.Operation{SigsRequired: 2, Roles: []string{"founder", "sysadmin"}},
			[]key{founder1}, StatePending, []string{"sysadmin"}},
		{"sysadmin first takes the sysadmin role", policy.Operation{SigsRequired: 2, Roles: []string{"sysadmin", "founder"}},
			[]key{sysadmin1, founder1}, StateApproved, nil},
		{"three roles listed least senior first", policy.Operation{SigsRequired: 3, Roles: []string{"office-mgr", "sysadmin", "founder"}},
			[]key{founder1, officeMgr1, sysadmin1}, StateApproved, nil},
		{"three roles, two founders and an office-mgr", policy.Operation{SigsRequired: 3, Roles: []string{"founder", "sysadmin", "office-mgr"}},
			[]key{officeMgr1, founder2, founder1}, StateApproved, nil},
		{"three roles, sysadmins cannot fill founder", policy.Operation{SigsRequired: 3, Roles: []string{"founder", "sysadmin", "office-mgr"}},
			[]key{officeMgr1, sysadmin1, sysadmin2}, StatePending, []string{"founder"}},
		{"padding from the least listed role", policy.Operation{SigsRequired: 4, Roles: []string{"founder", "sysadmin"}},
			[]key{founder1, sysadmin1, officeMgr1, sysadmin2}, StatePending, []string{"sysadmin"}},
		{"padding filled", policy.Operation{SigsRequired: 4, Roles: []string{"founder", "sysadmin"}},
			[]key{founder1, sysadmin1, founder2, sysadmin2}, StateApproved, nil},
		{"role any, two keys", policy.Operation{SigsRequired: 2, Role: policy.AnyRole},
			[]key{officeMgr1, founder1}, StateApproved, nil},
		{"role any, one key", policy.Operation{SigsRequired: 2, Role: policy.AnyRole},
			[]key{officeMgr1}, StatePending, []string{policy.AnyRole}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := NewRequest("r1", protocol.Operation{ID: "custom", Tenant: tenant, Nonce: "AAAAAAAAAAAAAAAAAAAAAA"}, tt.op, t0, time.Time{})
			if err != nil {
				t.Fatal(err)
			}
			var sigs []Signature
			for i, k := range tt.keys {
				sigs = append(sigs, approve(r, k, at(i)))
			}
			d := NewEngine(p, testRoster()).Evaluate(r, sigs, at(len(tt.keys)))
			if d.State != tt.want || !slices.Equal(d.MissingRoles, tt.missing) {
				t.Errorf("%s, missing roles %q, want %s, %q", d.Summary(), d.MissingRoles, tt.want, tt.missing)
			}
		})
	}
}

func TestMissingWords(t *testing.T) {
	p := policy.Default(tenant)
	r := testRequest(t, "tenant_delete")
	d := NewEngine(p, testRoster()).Evaluate(r, nil, t0)
	want := []string{"1 signature from a key of role founder or above", "1 signature from a key of role sysadmin or above",
		"a KiwiStack operator co-signature"}
	if !slices.Equal(d.Missing, want) {
		t.Errorf("missing %q, want %q", d.Missing, want)
	}
	if got := d.Summary(); !strings.Contains(got, "founder or above and 1 signature") {
		t.Errorf("summary %q", got)
	}
	r = testRequest(t, "read_audit")
	r.Policy.SigsRequired = 3
	d = NewEngine(p, testRoster()).Evaluate(r, nil, t0)
	if want := []string{"3 signatures from distinct keys of any role"}; !slices.Equal(d.Missing, want) {
		t.Errorf("missing %q, want %q", d.Missing, want)
	}
}

func TestUnknownAndMismatchedKey(t *testing.T) {
	p := policy.Default(tenant)
	r := testRequest(t, "enroll_device")
	stranger := approve(r, key{7777, "sysadmin"}, t0)
	d := NewEngine(p, testRoster()).Evaluate(r, []Signature{stranger}, t0)
	wantReason(t, d, ReasonUnknownKey)
	other := approve(r, sysadmin1, t0)
	other.SPKISHA256 = sysadmin2.spki()
	d = NewEngine(p, testRoster()).Evaluate(r, []Signature{other}, t0)
	wantReason(t, d, ReasonKeyMismatch)
	wrongOp := approve(r, sysadmin1, t0)
	wrongOp.Operation = "remote_wipe"
	d = NewEngine(p, testRoster()).Evaluate(r, []Signature{wrongOp}, t0)
	wantReason(t, d, ReasonWrongOperation)
	if d.State != StatePending {
		t.Errorf("%s", d.Summary())
	}
}

func TestPolicyInvalid(t *testing.T) {
	p := policy.Default(tenant)
	for _, op := range []policy.Operation{
		{SigsRequired: 0, Role: "sysadmin"},
		{SigsRequired: 1, Role: "janitor"},
		{SigsRequired: 2, Roles: []string{"founder", "janitor"}},
	} {
		r := testRequest(t, "enroll_device")
		r.Policy = op
		d := NewEngine(p, testRoster()).Evaluate(r, []Signature{approve(r, founder1, t0)}, t0)
		wantState(t, d, StateRejected, ReasonPolicyInvalid)
	}
}

func TestTransitions(t *testing.T) {
	tests := []struct {
		from, to State
		ok       bool
	}{
		{"", StateApproved, true},
		{StatePending, StateStaged, true},
		{StatePending, StateApplied, false},
		{StateStaged, StateApplied, false},
		{StateStaged, StatePending, true},
		{StateStaged, StateCancelled, true},
		{StateApproved, StateApplied, true},
		{StateApplied, StateApplied, true},
		{StateApplied, StateCancelled, false},
		{StateCancelled, StateApproved, false},
		{StateExpired, StatePending, false},
		{StateRejected, StateApproved, false},
		{StatePending, "bogus", false},
	}
	for _, tt := range tests {
		if got := CanTransition(tt.from, tt.to); got != tt.ok {
			t.Errorf("CanTransition(%q, %q) = %v, want %v", tt.from, tt.to, got, tt.ok)
		}
	}
	if _, err := MarkApplied(Decision{State: StateStaged}); err == nil {
		t.Error("a staged operation was applied")
	}
	_, err := Advance(StateApplied, Decision{State: StatePending})
	var te *TransitionError
	if !errors.As(err, &te) || te.From != StateApplied {
		t.Errorf("Advance from applied: %v", err)
	}
	for _, s := range States() {
		if s.Terminal() && CanTransition(s, StatePending) {
			t.Errorf("terminal %s can move", s)
		}
	}
}

func TestReasonsUnique(t *testing.T) {
	seen := map[string]bool{}
	for _, r := range Reasons() {
		if seen[r] || r == "" {
			t.Errorf("reason %q repeated or empty", r)
		}
		seen[r] = true
	}
}

func TestSummaryAndHelpers(t *testing.T) {
	p := policy.Default(tenant)
	eng := NewEngine(p, testRoster())
	r := testRequest(t, "change_jurisdiction")
	sigs := []Signature{approve(r, founder1, t0), approve(r, sysadmin1, t0.Add(time.Minute)), approve(r, officeMgr1, t0.Add(time.Minute))}
	d := eng.Evaluate(r, sigs, t0.Add(time.Hour))
	if got, want := d.Summary(), "staged until 2026-12-05T09:01:00Z, and waiting for a KiwiStack operator co-signature"; got != want {
		t.Errorf("summary %q, want %q", got, want)
	}
	if rej := d.Rejections(); len(rej) != 1 || rej[0].Index != 2 || rej[0].Reason != ReasonRoleInsufficient || rej[0].Detail == "" {
		t.Errorf("rejections %+v", rej)
	}
	d = eng.Evaluate(r, append(sigs, approve(r, operatorKey, t0.Add(2*time.Minute))), t0.Add(8*24*time.Hour))
	if d.Summary() != "approved" {
		t.Errorf("summary %q", d.Summary())
	}
	d = eng.Evaluate(r, append(sigs, cancel(r, sysadmin2, t0.Add(time.Hour))), t0.Add(2*time.Hour))
	if d.Summary() != "cancelled (cancelled)" {
		t.Errorf("summary %q", d.Summary())
	}

	m := RosterFromPolicy([]policy.RosterEntry{{Serial: 7, Role: "founder", PublicKeySHA256: "AB"}, {Serial: 8, Burned: true}})
	if k, ok := m.Key(7); !ok || k.SPKISHA256 != "ab" || k.Burned {
		t.Errorf("key 7: %+v %v", k, ok)
	}
	if k, ok := m.Key(8); !ok || !k.Burned {
		t.Errorf("key 8: %+v %v", k, ok)
	}
	if _, ok := m.Key(9); ok {
		t.Error("key 9 found")
	}

	if _, err := NewRequest("x", protocol.Operation{ID: "Bad Op", Tenant: tenant, Nonce: "AAAAAAAAAAAAAAAAAAAAAA"}, policy.Operation{}, t0, time.Time{}); !errors.Is(err, protocol.ErrStatement) {
		t.Errorf("NewRequest of an invalid operation: %v", err)
	}
	if _, err := SignatureFromStatement(nil, nil, t0, false); !errors.Is(err, protocol.ErrStatement) {
		t.Errorf("SignatureFromStatement(nil): %v", err)
	}

	_, err := Advance(StateCancelled, Decision{State: StateApproved})
	if !errors.Is(err, ErrTransition) || !strings.Contains(err.Error(), `"cancelled" cannot become "approved"`) {
		t.Errorf("Advance: %v", err)
	}
}
