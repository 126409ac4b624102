package policy

import (
	"fmt"
	"maps"
	"slices"
)

// Lockout is an operation that a roster can no longer sign.
type Lockout struct {
	Operation string
	// Reason says which signatures are missing.
	Reason string
}

func (l Lockout) String() string { return l.Operation + ": " + l.Reason }

// LockoutCheck returns the operations of p that the unburned keys of
// roster cannot sign, sorted by name; none means no lock-out. Keys whose
// role p does not know sign nothing. A remove_admin or policy_change whose
// result has lock-outs must be refused (issue 7, "No lock-out"); a burn_key
// is applied anyway and its lock-outs reported.
//
// A key of a role satisfies a requirement of that role or of a less senior
// one, each key signs once, and the operator co-signature is not a roster
// matter.
func LockoutCheck(p *Policy, roster []RosterEntry) []Lockout {
	var ranks []int // of the keys that can sign
	for _, e := range roster {
		if r := p.rank(e.Role); r >= 0 && !e.Burned {
			ranks = append(ranks, r)
		}
	}
	var out []Lockout
	for _, name := range slices.Sorted(maps.Keys(p.Operations)) {
		if reason := p.shortfall(p.Operations[name], ranks); reason != "" {
			out = append(out, Lockout{Operation: name, Reason: reason})
		}
	}
	return out
}

// shortfall says why keys of the given ranks cannot sign op, or "" if they
// can. The slots to fill are nested (a key fitting a demanding slot fits
// every less demanding one), so filling the most demanding first is optimal:
// the i-th most demanding slot needs i keys at or above its rank.
func (p *Policy) shortfall(op Operation, ranks []int) string {
	if len(p.Roles) == 0 {
		return "the policy lists no roles"
	}
	least := len(p.Roles) - 1
	var slots []int
	switch {
	case len(op.Roles) > 0:
		lowest := 0
		for _, r := range op.Roles {
			slots = append(slots, p.rank(r))
			lowest = max(lowest, p.rank(r))
		}
		for len(slots) < op.SigsRequired {
			slots = append(slots, lowest)
		}
	case op.Role == AnyRole:
		for range op.SigsRequired {
			slots = append(slots, least)
		}
	default:
		for range op.SigsRequired {
			slots = append(slots, p.rank(op.Role))
		}
	}
	slices.Sort(slots)
	for i, s := range slots {
		if s < 0 {
			return "it names a role the policy does not list"
		}
		have := 0
		for _, r := range ranks {
			if r <= s {
				have++
			}
		}
		if have <= i {
			who := "of any role"
			if s < least {
				who = "of role " + p.Roles[s] + " or above"
			}
			return fmt.Sprintf("needs %d distinct unburned %s %s; the roster has %d", i+1, plural(i+1, "key", "keys"), who, have)
		}
	}
	return ""
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}
