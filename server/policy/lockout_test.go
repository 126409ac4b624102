package policy

import (
	"reflect"
	"testing"
)

func TestLockoutCheck(t *testing.T) {
	founder := RosterEntry{Serial: 1, Admin: "Marie Schmidt", Role: "founder"}
	sysadmin := RosterEntry{Serial: 2, Admin: "John Doe", Role: "sysadmin"}
	office := RosterEntry{Serial: 3, Admin: "Anne Lefèvre", Role: "office-mgr"}
	backup := RosterEntry{Serial: 4, Admin: "on-call backup", Role: "sysadmin"}
	burned := func(e RosterEntry) RosterEntry { e.Burned = true; return e }
	critical := []string{"add_admin", "change_jurisdiction", "policy_change", "remove_admin", "tenant_delete"}
	names := func(l []Lockout) []string {
		var out []string
		for _, x := range l {
			out = append(out, x.Operation)
		}
		return out
	}
	tests := []struct {
		name   string
		roster []RosterEntry
		want   []string
	}{
		{"seed roster", []RosterEntry{founder, sysadmin, office, backup}, nil},
		{"founder and sysadmin", []RosterEntry{founder, sysadmin}, nil},
		{"two founders fill the sysadmin slot", []RosterEntry{founder, {Serial: 9, Admin: "B", Role: "founder"}}, nil},
		{"last founder removed", []RosterEntry{sysadmin, office, backup}, append(critical[:4:4], "rotate_intermediate", "tenant_delete")},
		{"only founder key burned", []RosterEntry{burned(founder), sysadmin, office}, append(critical[:4:4], "rotate_intermediate", "tenant_delete")},
		{"only the founder", []RosterEntry{founder}, critical},
		{"office manager alone", []RosterEntry{office}, []string{"add_admin", "bootstrap_token_create", "burn_key",
			"change_jurisdiction", "create_user", "disable_user", "enroll_device", "policy_change", "quota_change",
			"read_recovery_key", "reenroll_consent", "remote_lock", "remote_wipe", "remove_admin", "rotate_intermediate", "tenant_delete"}},
		{"everything burned", []RosterEntry{burned(founder), burned(sysadmin)}, allOps()},
		{"empty roster", nil, allOps()},
		{"unknown role signs nothing", []RosterEntry{{Serial: 5, Admin: "X", Role: "ceo"}, sysadmin}, append(critical[:4:4], "rotate_intermediate", "tenant_delete")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := LockoutCheck(Default("acme-corp"), tt.roster)
			if !reflect.DeepEqual(names(got), tt.want) {
				t.Errorf("lock-outs = %v\nwant %v", got, tt.want)
			}
			for _, l := range got {
				if l.Reason == "" {
					t.Errorf("%s has no reason", l.Operation)
				}
			}
		})
	}
}

func allOps() []string {
	return []string{"add_admin", "bootstrap_token_create", "burn_key", "change_jurisdiction", "create_user",
		"disable_user", "enroll_device", "open_ticket", "policy_change", "quota_change", "read_audit", "read_billing",
		"read_recovery_key", "read_status", "reenroll_consent", "remote_lock", "remote_wipe", "remove_admin",
		"rotate_intermediate", "tenant_delete"}
}

// TestLockoutReasons checks the words of the reasons and the counting of
// extra signatures beyond the listed roles.
func TestLockoutReasons(t *testing.T) {
	p := &Policy{
		Roles: DefaultRoles,
		Operations: map[string]Operation{
			"add_admin": {Sensitivity: Critical, SigsRequired: 2, Roles: []string{"founder", "sysadmin"}},
			"three":     {Sensitivity: High, SigsRequired: 3, Roles: []string{"founder"}},
			"any_two":   {Sensitivity: Low, SigsRequired: 2, Role: AnyRole},
		},
	}
	roster := []RosterEntry{{Serial: 1, Role: "sysadmin"}, {Serial: 2, Role: "office-mgr"}}
	want := []Lockout{
		{"add_admin", "needs 1 distinct unburned key of role founder or above; the roster has 0"},
		{"three", "needs 1 distinct unburned key of role founder or above; the roster has 0"},
	}
	if got := LockoutCheck(p, roster); !reflect.DeepEqual(got, want) {
		t.Errorf("LockoutCheck = %v\nwant %v", got, want)
	}
	roster = []RosterEntry{{Serial: 1, Role: "founder"}, {Serial: 2, Role: "sysadmin"}}
	want = []Lockout{{"three", "needs 2 distinct unburned keys of role founder or above; the roster has 1"}}
	if got := LockoutCheck(p, roster); !reflect.DeepEqual(got, want) {
		t.Errorf("LockoutCheck = %v\nwant %v", got, want)
	}
	roster = []RosterEntry{{Serial: 1, Role: "office-mgr"}}
	want = []Lockout{
		{"add_admin", "needs 1 distinct unburned key of role founder or above; the roster has 0"},
		{"any_two", "needs 2 distinct unburned keys of any role; the roster has 1"},
		{"three", "needs 1 distinct unburned key of role founder or above; the roster has 0"},
	}
	if got := LockoutCheck(p, roster); !reflect.DeepEqual(got, want) {
		t.Errorf("LockoutCheck = %v\nwant %v", got, want)
	}
}

func TestRoleMeetsAndSingleSigner(t *testing.T) {
	p := Default("acme-corp")
	for _, c := range []struct {
		have, want string
		ok         bool
	}{
		{"founder", "sysadmin", true}, {"sysadmin", "sysadmin", true}, {"office-mgr", "sysadmin", false},
		{"intruder", "sysadmin", false}, {"sysadmin", "intruder", false}, {"office-mgr", AnyRole, true}, {"intruder", AnyRole, false},
	} {
		if got := p.RoleMeets(c.have, c.want); got != c.ok {
			t.Errorf("RoleMeets(%q, %q) = %v, want %v", c.have, c.want, got, c.ok)
		}
	}
	if r, ok := p.SingleSigner("enroll_device"); !ok || r != "sysadmin" {
		t.Errorf("enroll_device: %q %v", r, ok)
	}
	for _, op := range []string{"add_admin", "rotate_intermediate", "no_such_op"} {
		if _, ok := p.SingleSigner(op); ok {
			t.Errorf("%s has a single signer", op)
		}
	}
	if !p.HasRole("office-mgr") || p.HasRole("root") {
		t.Error("HasRole")
	}
}
