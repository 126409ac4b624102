package authz

import (
	"maps"
	"slices"
	"testing"
	"time"

	"github.com/kiwistack/endpoint/server/policy"
)

// FuzzEvaluate builds random signer sets (keys, roles, burns, digests,
// tenants, times, cancels) for every default operation and checks that
// Evaluate never approves with fewer distinct keys than required, with a
// burned key or with a signer of too low a role, and that, without a
// window, it approves whenever the valid distinct keys can fill the
// required roles (checked with Hall's condition on nested requirements).
func FuzzEvaluate(f *testing.F) {
	f.Add(byte(0), byte(0), true, uint16(10), []byte{0, 0, 1, 128, 2, 0, 2, 128})
	f.Add(byte(1), byte(4), false, uint16(60), []byte{0, 0, 0, 128, 0, 0, 1, 128, 6, 0, 2, 128})
	f.Add(byte(18), byte(1), true, uint16(9000), []byte{1, 0, 1, 128, 2, 0, 2, 128, 6, 0, 3, 128, 3, 4, 10, 128})
	names := slices.Sorted(maps.Keys(policy.Default(tenant).Operations))
	pool := append(slices.Clone(allKeys), operatorKey, key{7777, "sysadmin"})
	roles := []string{"founder", "sysadmin", "office-mgr", "intern", ""}
	f.Fuzz(func(t *testing.T, opIdx, burnMask byte, pin bool, nowMin uint16, data []byte) {
		p := policy.Default(tenant)
		name := names[int(opIdx)%len(names)]
		op := p.Operations[name]
		req := testRequest(t, name)
		roster := testRoster()
		for i, k := range allKeys {
			e := roster[k.serial]
			e.Burned = burnMask&(1<<i) != 0
			if !pin {
				e.SPKISHA256 = ""
			}
			roster[k.serial] = e
		}
		var sigs []Signature
		for len(data) >= 4 && len(sigs) < 16 {
			b := data[:4]
			data = data[4:]
			k := pool[int(b[0]&7)]
			at := t0.Add(time.Duration(b[2]) * 20 * time.Second)
			var s Signature
			if b[1]&4 != 0 {
				s = cancel(req, k, at)
			} else {
				s = approve(req, k, at)
			}
			if b[0]&0x80 != 0 { // another key's public key under this serial
				s.SPKISHA256 = pool[int(b[0]>>3)&7].spki()
			}
			if b[1]&1 != 0 {
				s.Digest = "x" + s.Digest[1:]
			}
			if b[1]&2 != 0 {
				s.Tenant = "evil-corp"
			}
			if b[1]&8 != 0 {
				s.Role = roles[int(b[1]>>4)%len(roles)]
			}
			s.Signed = at.Add(time.Duration(int(b[3])-128) * 5 * time.Second)
			sigs = append(sigs, s)
		}
		now := t0.Add(time.Duration(nowMin) * time.Minute)
		eng := NewEngine(p, roster)
		d := eng.Evaluate(req, sigs, now)
		if len(d.Results) != len(sigs) {
			t.Fatalf("%d results for %d signatures", len(d.Results), len(sigs))
		}
		slots, err := eng.slots(op)
		if err != nil {
			t.Fatal(err)
		}
		least := slots[len(slots)-1].rank
		rank := func(s Signature) int { return slices.Index(p.Roles, s.Role) }
		// valid says, independently of the engine, whether s can count.
		valid := func(s Signature) bool {
			k, ok := roster[s.Serial]
			skew := s.Signed.Sub(s.Received)
			return ok && !k.Burned && !s.Received.After(now) && (k.SPKISHA256 == "" || k.SPKISHA256 == s.SPKISHA256) &&
				s.Tenant == tenant && s.CertTenant == tenant && s.Operation == req.Operation && s.Digest == req.Digest &&
				skew <= MaxSkew && skew >= -MaxSkew && rank(s) >= 0 && rank(s) <= least
		}
		satisfiable := func(ranks []int) bool { // nested requirements: Hall's condition
			slices.Sort(ranks)
			if len(ranks) < len(slots) {
				return false
			}
			for i, sl := range slots { // most demanding first
				if ranks[i] > sl.rank {
					return false
				}
			}
			return true
		}

		if !d.ApprovedAt.IsZero() {
			var ranks []int
			spkis, serials := map[string]bool{}, map[uint32]bool{}
			for _, r := range d.Results {
				if !r.Counted || r.Kind == KindCancel {
					continue
				}
				s := sigs[r.Index]
				if spkis[s.SPKISHA256] || serials[s.Serial] {
					t.Fatalf("key %d counted twice: %+v", s.Serial, d.Results)
				}
				spkis[s.SPKISHA256], serials[s.Serial] = true, true
				if r.Kind == KindOperator {
					continue
				}
				if !valid(s) {
					t.Fatalf("invalid signature counted (burned, unknown, foreign, wrong digest or low role): %+v", s)
				}
				ranks = append(ranks, rank(s))
			}
			if len(ranks) != len(slots) || len(ranks) < op.SigsRequired || !satisfiable(ranks) {
				t.Fatalf("%s approved with counted ranks %v for %d signatures", name, ranks, op.SigsRequired)
			}
		}
		switch d.State {
		case StateApproved:
			if d.ApprovedAt.IsZero() || now.Before(d.ApplyAt) || d.OperatorMissing {
				t.Fatalf("approved too early: %s", d.Summary())
			}
			if op.OperatorCosign {
				ok := false
				for _, r := range d.Results {
					ok = ok || (r.Counted && r.Kind == KindOperator && sigs[r.Index].Operator)
				}
				if !ok {
					t.Fatal("approved without an operator co-signature")
				}
			}
		case StateStaged:
			if d.ApprovedAt.IsZero() || op.Delay == 0 {
				t.Fatalf("staged without approval or delay: %s", d.Summary())
			}
		}

		// Completeness, where no window, cancel or challenge end interferes.
		if op.Window > 0 {
			return
		}
		for _, s := range sigs {
			if s.Cancel {
				return
			}
		}
		order := slices.Clone(sigs)
		slices.SortStableFunc(order, func(a, b Signature) int { return a.Received.Compare(b.Received) })
		var ranks []int
		spkis, serials := map[string]bool{}, map[uint32]bool{}
		for _, s := range order {
			if s.Operator && !s.Received.After(now) && s.Tenant == tenant && s.Digest == req.Digest && s.Operation == req.Operation {
				// A valid operator signature takes its key, as in the engine.
				if skew := s.Signed.Sub(s.Received); skew <= MaxSkew && skew >= -MaxSkew && !spkis[s.SPKISHA256] && !serials[s.Serial] {
					spkis[s.SPKISHA256], serials[s.Serial] = true, true
				}
				continue
			}
			if s.Operator || !valid(s) || spkis[s.SPKISHA256] || serials[s.Serial] {
				continue
			}
			spkis[s.SPKISHA256], serials[s.Serial] = true, true
			ranks = append(ranks, rank(s))
		}
		if got, want := !d.ApprovedAt.IsZero(), satisfiable(ranks); got != want {
			t.Fatalf("%s: engine approved=%v, Hall says %v (ranks %v): %s %+v", name, got, want, ranks, d.Summary(), d.Results)
		}
	})
}
