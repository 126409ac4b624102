package policy

import (
	"fmt"
	"slices"
	"time"
)

// Sensitivity is the tier of an operation in seed table Z1.
type Sensitivity string

// The four tiers, least sensitive first.
const (
	Low      Sensitivity = "low"
	Medium   Sensitivity = "medium"
	High     Sensitivity = "high"
	Critical Sensitivity = "critical"
)

// sensitivities lists the tiers in order, for parsing and rendering.
var sensitivities = []Sensitivity{Low, Medium, High, Critical}

// AnyRole is the value of Operation.Role that accepts a key of any role in
// the roster.
const AnyRole = "any"

// DefaultRoles are the roles of a new tenant, most senior first.
var DefaultRoles = []string{"founder", "sysadmin", "office-mgr"}

// MaxDuration bounds a window or a delay.
const MaxDuration = 366 * 24 * time.Hour

// Policy is one tenant's policies/authorization.yaml.
type Policy struct {
	// Tenant is the tenant's slug; empty when the file does not say.
	Tenant string
	// Roles are the roles a key's certificate can carry (its OU), most
	// senior first: a key of a role satisfies any requirement of that role
	// or of a role after it.
	Roles []string
	// Operations are the gated operations by name.
	Operations map[string]Operation
	// Roster is the tenant's admin keys.
	Roster []RosterEntry
}

// Operation is what one operation requires before it applies.
type Operation struct {
	Sensitivity Sensitivity
	// SigsRequired is the number of signatures from distinct keys.
	SigsRequired int
	// Role is the minimum role of every signer, or AnyRole. Exactly one of
	// Role and Roles is set.
	Role string
	// Roles asks for one signature from a key of each listed role (or a
	// more senior one), from distinct keys; the remaining SigsRequired -
	// len(Roles) signatures come from keys of at least the least senior
	// listed role.
	Roles []string
	// Window is the time within which all signatures must be collected;
	// zero means no limit beyond the challenge's.
	Window time.Duration
	// Delay stages the operation for this long before it applies; zero
	// means it applies at once.
	Delay time.Duration
	// OperatorCosign requires a KiwiStack operator's co-signature.
	OperatorCosign bool
	// Cancellable lets any authorized admin cancel the operation during
	// its Delay with one signature.
	Cancellable bool
}

// RosterEntry is one admin key, in the shape `kiwistack-enroll keys
// provision` prints (enroll.RosterEntry), plus the burned mark.
type RosterEntry struct {
	Serial          uint32
	Admin           string
	Role            string
	PublicKeySHA256 string
	Certificate     string
	Attestation     Attestation
	// Burned is set once burn_key ran for this key: it signs nothing.
	Burned bool
}

// Attestation is the attestation evidence recorded when the key was issued.
type Attestation struct {
	Firmware    string
	FormFactor  string
	PINPolicy   string
	TouchPolicy string
	Root        string
	F9          string
	Statement   string
}

// rank returns the index of role in p.Roles (0 is the most senior), or -1.
func (p *Policy) rank(role string) int { return slices.Index(p.Roles, role) }

// Default returns the policy of a new tenant: every operation of seed table
// Z1 and of the authorization issue, with an empty roster. tenant may be
// empty.
func Default(tenant string) *Policy {
	const five = 5 * time.Minute
	const day = 24 * time.Hour
	anyOne := Operation{Sensitivity: Low, SigsRequired: 1, Role: AnyRole}
	sysadmin := func(s Sensitivity) Operation {
		return Operation{Sensitivity: s, SigsRequired: 1, Role: "sysadmin"}
	}
	pair := func() []string { return []string{"founder", "sysadmin"} }
	return &Policy{
		Tenant: tenant,
		Roles:  slices.Clone(DefaultRoles),
		Operations: map[string]Operation{
			"open_ticket":            anyOne,
			"read_audit":             anyOne,
			"read_billing":           anyOne,
			"read_status":            anyOne,
			"enroll_device":          sysadmin(Medium),
			"create_user":            sysadmin(Medium),
			"disable_user":           sysadmin(Medium),
			"quota_change":           sysadmin(Medium),
			"bootstrap_token_create": sysadmin(Medium),
			"reenroll_consent":       sysadmin(Medium),
			"remote_lock":            sysadmin(High),
			"remote_wipe":            sysadmin(High),
			"burn_key":               sysadmin(High),
			"read_recovery_key":      sysadmin(High),
			"rotate_intermediate":    {Sensitivity: High, SigsRequired: 1, Role: "founder", OperatorCosign: true},
			"add_admin":              {Sensitivity: Critical, SigsRequired: 2, Roles: pair(), Window: five},
			"remove_admin":           {Sensitivity: Critical, SigsRequired: 2, Roles: pair(), Window: five},
			"policy_change":          {Sensitivity: Critical, SigsRequired: 2, Roles: pair(), Window: five},
			"change_jurisdiction": {Sensitivity: Critical, SigsRequired: 2, Roles: pair(), Window: five,
				Delay: 7 * day, Cancellable: true, OperatorCosign: true},
			"tenant_delete": {Sensitivity: Critical, SigsRequired: 2, Roles: pair(), Window: five,
				Delay: 14 * day, Cancellable: true, OperatorCosign: true},
		},
	}
}

// formatDuration renders d as Parse reads it: whole days as "14d", the rest
// as Go durations without zero units ("5m", "1h30m").
func formatDuration(d time.Duration) string {
	const day = 24 * time.Hour
	if d > 0 && d%day == 0 {
		return fmt.Sprintf("%dd", d/day)
	}
	s := d.String()
	for _, z := range []string{"m0s", "h0m"} {
		if len(s) > len(z) && s[len(s)-len(z):] == z {
			s = s[:len(s)-len(z)+1]
		}
	}
	return s
}

// HasRole reports whether role is one of the policy's roles.
func (p *Policy) HasRole(role string) bool { return p.rank(role) >= 0 }

// RoleMeets reports whether a key of role have satisfies a requirement of
// role want: have is want or more senior. AnyRole is met by every known
// role; an unknown role meets nothing.
func (p *Policy) RoleMeets(have, want string) bool {
	h := p.rank(have)
	if h < 0 {
		return false
	}
	if want == AnyRole {
		return true
	}
	w := p.rank(want)
	return w >= 0 && h <= w
}

// SingleSigner returns the role whose single signature authorizes op, and
// false when op is unknown or needs more than one signature (the operations
// API's n-of-m flow).
func (p *Policy) SingleSigner(op string) (string, bool) {
	o, ok := p.Operations[op]
	if !ok || o.SigsRequired != 1 || o.Role == "" || o.Delay > 0 || o.OperatorCosign {
		return "", false
	}
	return o.Role, true
}
