package policy

import (
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"
)

// seedZ4 is the illustrative policies/authorization.yaml of seed
// "Authorization & trust", Z4, indented as YAML needs.
const seedZ4 = `# customer state repo: policies/authorization.yaml
operations:
  open_ticket:
    sensitivity: low
    sigs_required: 1
    role: any
  enroll_device:
    sensitivity: medium
    sigs_required: 1
    role: sysadmin
  remote_wipe:
    sensitivity: high
    sigs_required: 1
    role: sysadmin
  add_admin:
    sensitivity: critical
    sigs_required: 2
    roles: [founder, sysadmin]
    window: 5m
  tenant_delete:
    sensitivity: critical
    sigs_required: 2
    roles: [founder, sysadmin]
    window: 14d
    operator_cosign: true
    cancellable: true
roster:
  - serial: 12345678
    admin: Marie Schmidt
    role: founder
  - serial: 12345679
    admin: John Doe
    role: sysadmin
  - serial: 12345680
    admin: Anne Lefèvre
    role: office-mgr
`

// TestParseSeed: the seed's YAML is refused on one point only, its
// tenant_delete being cancellable with no delay (its "window: 14d" is the
// delay of table Z1); with that line written as a window and a delay it
// parses, roster included.
func TestParseSeed(t *testing.T) {
	_, err := Parse([]byte(seedZ4))
	var pe *Error
	if !errors.As(err, &pe) || pe.Line != 26 || !strings.Contains(pe.Msg, "add a delay") {
		t.Fatalf("Parse(seed) = %v, want the one error at line 26 asking for a delay", err)
	}
	fixed := strings.Replace(seedZ4, "    window: 14d\n", "    window: 5m\n    delay: 14d\n", 1)
	p, err := Parse([]byte(fixed))
	if err != nil {
		t.Fatalf("Parse(fixed seed): %v", err)
	}
	if !reflect.DeepEqual(p.Roles, DefaultRoles) {
		t.Errorf("roles = %v, want the defaults %v", p.Roles, DefaultRoles)
	}
	want := Operation{Sensitivity: Critical, SigsRequired: 2, Roles: []string{"founder", "sysadmin"},
		Window: 5 * time.Minute, Delay: 14 * 24 * time.Hour, OperatorCosign: true, Cancellable: true}
	if got := p.Operations["tenant_delete"]; !reflect.DeepEqual(got, want) {
		t.Errorf("tenant_delete = %+v, want %+v", got, want)
	}
	if got := p.Operations["open_ticket"]; !reflect.DeepEqual(got, Operation{Sensitivity: Low, SigsRequired: 1, Role: AnyRole}) {
		t.Errorf("open_ticket = %+v", got)
	}
	wantRoster := []RosterEntry{
		{Serial: 12345678, Admin: "Marie Schmidt", Role: "founder"},
		{Serial: 12345679, Admin: "John Doe", Role: "sysadmin"},
		{Serial: 12345680, Admin: "Anne Lefèvre", Role: "office-mgr"},
	}
	if !reflect.DeepEqual(p.Roster, wantRoster) {
		t.Errorf("roster = %+v, want %+v", p.Roster, wantRoster)
	}
	if l := LockoutCheck(p, p.Roster); len(l) != 0 {
		t.Errorf("the seed roster should sign every operation, got lock-outs %v", l)
	}
}

const certPEM = "-----BEGIN CERTIFICATE-----\nMAA=\n-----END CERTIFICATE-----\n"

// provisioned is the roster entry `kiwistack-enroll keys provision` prints
// (yaml.Marshal of an enroll.RosterEntry, four-space indent), written out
// here so that this package's tests do not build the YubiKey stack.
const provisioned = `roster:
    - serial: 4242
      admin: Marie Schmidt
      role: founder
      public_key_sha256: ` + "abababababababababababababababababababababababababababababababab" + `
      certificate: |
        -----BEGIN CERTIFICATE-----
        MAA=
        -----END CERTIFICATE-----
      attestation:
        firmware: 5.7.1
        form_factor: usb-c-keychain
        pin_policy: once
        touch_policy: always
        root: yubico-piv-ca-1
        f9: |
            -----BEGIN CERTIFICATE-----
            MAA=
            -----END CERTIFICATE-----
        statement: |
            -----BEGIN CERTIFICATE-----
            MAA=
            -----END CERTIFICATE-----
`

// TestParseProvisionedEntry: the roster entry `keys provision` prints is
// accepted as it is.
func TestParseProvisionedEntry(t *testing.T) {
	data := "operations:\n  read_status: {sensitivity: low, sigs_required: 1, role: any}\n" + provisioned
	p, err := Parse([]byte(data))
	if err != nil {
		t.Fatalf("Parse:\n%s\n%v", data, err)
	}
	want := RosterEntry{Serial: 4242, Admin: "Marie Schmidt", Role: "founder", PublicKeySHA256: strings.Repeat("ab", 32),
		Certificate: certPEM, Attestation: Attestation{Firmware: "5.7.1", FormFactor: "usb-c-keychain", PINPolicy: "once",
			TouchPolicy: "always", Root: "yubico-piv-ca-1", F9: certPEM, Statement: certPEM}}
	if len(p.Roster) != 1 || p.Roster[0] != want {
		t.Errorf("roster = %+v, want %+v", p.Roster, want)
	}
}

// TestParseErrors is a table of malformed policies, each with the line of
// its first problem and a fragment of the message.
func TestParseErrors(t *testing.T) {
	const op = "operations:\n  x:\n    sensitivity: low\n    sigs_required: 1\n"
	tests := []struct {
		name, doc string
		line      int
		frag      string
	}{
		{"sigs_required word", op[:len(op)-len("1\n")] + "two\n    role: any\n", 4, `operations.x.sigs_required: want a positive integer, got "two"`},
		{"sigs_required zero", "operations:\n  x: {sensitivity: low, sigs_required: 0, role: any}\n", 2, "want a positive integer"},
		{"sigs_required negative", "operations:\n  x: {sensitivity: low, sigs_required: -1, role: any}\n", 2, `got "-1"`},
		{"sigs_required float", "operations:\n  x: {sensitivity: low, sigs_required: 1.5, role: any}\n", 2, "want a positive integer"},
		{"unknown top key", "operation:\n  x: {}\n", 1, "operation: unknown key: want one of tenant, roles, operations, roster"},
		{"unknown op key", op + "    role: any\n    quorum: 2\n", 6, "operations.x.quorum: unknown key"},
		{"duplicate op key", op + "    role: any\n    role: sysadmin\n", 6, "operations.x.role: duplicate key (first at line 5)"},
		{"duplicate operation", op + "    role: any\n  x:\n    sensitivity: low\n", 6, "operations.x: duplicate key (first at line 2)"},
		{"duplicate top key", "operations: {}\nroles: [a]\nroles: [b]\n", 3, "roles: duplicate key"},
		{"bad sensitivity", "operations:\n  x: {sensitivity: severe, sigs_required: 1, role: any}\n", 2, `want low, medium, high or critical, got "severe"`},
		{"unknown role", op + "    role: admin\n", 5, `unknown role "admin": want one of founder, sysadmin, office-mgr`},
		{"unknown role in roles", "operations:\n  x:\n    sensitivity: low\n    sigs_required: 2\n    roles:\n      - founder\n      - boss\n", 7, `operations.x.roles[1]: unknown role "boss"`},
		{"role and roles", op + "    role: any\n    roles: [founder]\n", 6, "role and roles both given"},
		{"neither role nor roles", op, 2, "missing role or roles"},
		{"fewer sigs than roles", "operations:\n  x:\n    sensitivity: high\n    sigs_required: 1\n    roles: [founder, sysadmin]\n", 4, "1 is fewer than the 2 roles listed"},
		{"critical without window", "operations:\n  x:\n    sensitivity: critical\n    sigs_required: 1\n    role: founder\n", 2, "a critical operation needs a window"},
		{"cancellable without delay", op + "    role: any\n    cancellable: true\n", 6, "only a delayed operation can be cancelled"},
		{"bad window", op + "    role: any\n    window: 5 minutes\n", 6, `want a positive duration of at most 366d such as 5m, 1h30m or 14d, got "5 minutes"`},
		{"window too long", op + "    role: any\n    window: 400d\n", 6, "at most 366d"},
		{"negative delay", op + "    role: any\n    delay: -5m\n", 6, "want a positive duration"},
		{"bool as string", op + "    role: any\n    operator_cosign: \"yes\"\n", 6, `want true or false, got "yes"`},
		{"sensitivity as list", "operations:\n  x:\n    sensitivity: [low]\n", 3, "want a string, got a list"},
		{"operations as list", "operations:\n  - x\n", 2, "operations: want a mapping"},
		{"missing operations", "roles: [founder]\n", 1, "operations: missing"},
		{"missing sensitivity", "operations:\n  x:\n    sigs_required: 1\n    role: any\n", 2, "operations.x.sensitivity: missing"},
		{"bad operation name", "operations:\n  Add-Admin: {sensitivity: low, sigs_required: 1, role: any}\n", 2, "not an operation name"},
		{"policy_change not critical", "operations:\n  policy_change: {sensitivity: high, sigs_required: 2, roles: [founder, sysadmin]}\n", 2, "policy_change must be critical"},
		{"role any in roles list", "roles: [founder, any]\noperations: {}\n", 1, `"any" is reserved`},
		{"role listed twice", "roles:\n  - founder\n  - founder\noperations: {}\n", 3, `role "founder" is listed twice (first at line 2)`},
		{"empty roles", "roles: []\noperations: {}\n", 1, "want a non-empty list of role names"},
		{"duplicate serial", "operations: {}\nroster:\n  - {serial: 7, admin: A, role: founder}\n  - {serial: 7, admin: B, role: sysadmin}\n", 4, "serial 7 is already in the roster at line 3"},
		{"roster unknown role", "operations: {}\nroster:\n  - serial: 7\n    admin: A\n    role: ceo\n", 5, `roster[0].role: unknown role "ceo"`},
		{"roster empty admin", "operations: {}\nroster:\n  - serial: 7\n    admin: \"  \"\n    role: founder\n", 4, "want the admin's name"},
		{"roster missing admin", "operations: {}\nroster:\n  - serial: 7\n    role: founder\n", 3, "roster[0].admin: missing"},
		{"roster serial too big", "operations: {}\nroster:\n  - {serial: 4294967296, admin: A, role: founder}\n", 3, "at most 4294967295"},
		{"roster unknown key", "operations: {}\nroster:\n  - {serial: 1, admin: A, role: founder, pin: 123456}\n", 3, "roster[0].pin: unknown key"},
		{"roster bad hash", "operations: {}\nroster:\n  - {serial: 1, admin: A, role: founder, public_key_sha256: abc}\n", 3, "64 lowercase hexadecimal digits"},
		{"roster bad certificate", "operations: {}\nroster:\n  - {serial: 1, admin: A, role: founder, certificate: hello}\n", 3, "want a PEM certificate"},
		{"attestation unknown key", "operations: {}\nroster:\n  - serial: 1\n    admin: A\n    role: founder\n    attestation:\n      pin: x\n", 7, "roster[0].attestation.pin: unknown key"},
		{"anchor", "operations:\n  x: &op {sensitivity: low, sigs_required: 1, role: any}\n  y: *op\n", 2, "YAML anchors (&op) are not allowed"},
		{"alias bomb", "a: &a [x, x]\nb: &b [*a, *a]\nc: &c [*b, *b]\n", 1, "anchors (&a) are not allowed"},
		{"merge key", "operations:\n  x:\n    <<: {sensitivity: low}\n", 3, `operations.x: want a name as key, got "<<"`},
		{"syntax", "operations:\n  x: [low,\n", 2, "not valid YAML"},
		{"tab indentation", "operations:\n\tx: {}\n", 2, "not valid YAML"},
		{"two documents", "operations: {}\n---\noperations: {}\n", 2, "a second YAML document"},
		{"not a mapping", "- a\n- b\n", 1, "want a mapping (key: value lines), got a list"},
		{"invalid UTF-8", "operations: {}\nroster:\n  - {serial: 1, admin: \"Ann\xffe\", role: founder}\n", 3, "not valid UTF-8"},
		{"tenant not a slug", "tenant: Acme Corp\noperations: {}\n", 1, `"Acme Corp" is not a tenant slug`},
		{"custom tag", "operations:\n  x: {sensitivity: low, sigs_required: !!str 1, role: any}\n", 2, "want a positive integer"},
	}
	if len(tests) < 20 {
		t.Fatalf("only %d cases", len(tests))
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := Parse([]byte(tt.doc))
			if err == nil {
				t.Fatalf("Parse accepted:\n%s\nas %+v", tt.doc, p)
			}
			var pe *Error
			if !errors.As(err, &pe) {
				t.Fatalf("error %v (%T) is not an *Error", err, err)
			}
			if pe.Line != tt.line || !strings.Contains(err.Error(), tt.frag) {
				t.Errorf("error = %q (first at line %d), want line %d and %q", err, pe.Line, tt.line, tt.frag)
			}
		})
	}
}

// TestParseWholeFile covers the problems that have no line.
func TestParseWholeFile(t *testing.T) {
	tests := []struct {
		name string
		doc  string
		want error
	}{
		{"empty", "", ErrEmpty},
		{"comments only", "# nothing\n", ErrEmpty},
		{"too large", "operations: {}\n#" + strings.Repeat("x", MaxSize), ErrTooLarge},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse([]byte(tt.doc))
			if !errors.Is(err, tt.want) {
				t.Fatalf("Parse = %v, want %v", err, tt.want)
			}
		})
	}
}

// TestParseSeveralErrors: every problem is reported, in file order.
func TestParseSeveralErrors(t *testing.T) {
	doc := "operations:\n  x: {sensitivity: low, sigs_required: 1, role: nobody}\n  y: {sensitivity: odd, sigs_required: 1, role: any}\n"
	_, err := Parse([]byte(doc))
	if err == nil {
		t.Fatal("Parse accepted two errors")
	}
	lines := strings.Split(err.Error(), "\n")
	if len(lines) != 2 || !strings.HasPrefix(lines[0], "2:") || !strings.HasPrefix(lines[1], "3:") {
		t.Fatalf("errors = %q, want one at line 2 then one at line 3", lines)
	}
}

// TestDefaultRoundTrip: Marshal(Default) parses back to Default, and
// covers every operation the issue lists.
func TestDefaultRoundTrip(t *testing.T) {
	for _, tenant := range []string{"", "acme-corp"} {
		d := Default(tenant)
		b, err := Marshal(d)
		if err != nil {
			t.Fatal(err)
		}
		p, err := Parse(b)
		if err != nil {
			t.Fatalf("Parse(Marshal(Default(%q))):\n%s\n%v", tenant, b, err)
		}
		if !reflect.DeepEqual(p, d) {
			t.Errorf("round trip of Default(%q) = %+v, want %+v", tenant, p, d)
		}
	}
	for _, name := range []string{"open_ticket", "read_audit", "read_billing", "read_status", "enroll_device",
		"create_user", "disable_user", "quota_change", "remote_lock", "remote_wipe", "rotate_intermediate",
		"add_admin", "remove_admin", "change_jurisdiction", "tenant_delete", "policy_change", "burn_key",
		"bootstrap_token_create", "reenroll_consent", "read_recovery_key"} {
		if _, ok := Default("").Operations[name]; !ok {
			t.Errorf("the default policy lacks %s", name)
		}
	}
	d := Default("")
	if op := d.Operations["change_jurisdiction"]; op.Delay != 7*24*time.Hour || !op.Cancellable || !op.OperatorCosign || op.SigsRequired != 2 {
		t.Errorf("change_jurisdiction = %+v, want 2 sigs, a cancellable 7-day delay and operator co-sign", op)
	}
	if op := d.Operations["rotate_intermediate"]; op.Role != "founder" || !op.OperatorCosign {
		t.Errorf("rotate_intermediate = %+v, want founder and operator co-sign", op)
	}
}

// TestMarshalRoundTrip covers what Default does not: custom roles, a full
// roster entry, names that YAML would read as other types, durations.
func TestMarshalRoundTrip(t *testing.T) {
	p := &Policy{
		Roles: []string{"owner", "ops", "auditor", "helpdesk"},
		Operations: map[string]Operation{
			"odd": {Sensitivity: High, SigsRequired: 3, Roles: []string{"owner", "auditor"}, Window: 90 * time.Minute,
				Delay: 36 * time.Hour, Cancellable: true},
			"quick": {Sensitivity: Medium, SigsRequired: 2, Role: "helpdesk", Window: 30 * time.Second},
		},
		Roster: []RosterEntry{
			{Serial: 1, Admin: "true", Role: "owner", Burned: true},
			{Serial: 4294967295, Admin: "123", Role: "ops", PublicKeySHA256: strings.Repeat("0f", 32), Certificate: certPEM,
				Attestation: Attestation{Firmware: "5.4.3", PINPolicy: "once", TouchPolicy: "always", F9: certPEM}},
			{Serial: 3, Admin: "Anne Lefèvre: office #2", Role: "helpdesk"},
		},
	}
	b, err := Marshal(p)
	if err != nil {
		t.Fatal(err)
	}
	got, err := Parse(b)
	if err != nil {
		t.Fatalf("Parse(Marshal):\n%s\n%v", b, err)
	}
	if !reflect.DeepEqual(got, p) {
		t.Errorf("round trip = %+v\nwant %+v\nfrom\n%s", got, p, b)
	}
}

func TestFormatDuration(t *testing.T) {
	for d, want := range map[time.Duration]string{
		5 * time.Minute: "5m", 14 * 24 * time.Hour: "14d", time.Hour: "1h", 90 * time.Minute: "1h30m",
		36 * time.Hour: "36h", 30 * time.Second: "30s", time.Hour + time.Second: "1h0m1s",
	} {
		if got := formatDuration(d); got != want {
			t.Errorf("formatDuration(%v) = %q, want %q", d, got, want)
		}
	}
}

// FuzzParse: Parse never panics, every error names a line or is one of the
// whole-file sentinels, and what it accepts survives Marshal and Parse.
func FuzzParse(f *testing.F) {
	f.Add([]byte(seedZ4))
	def, _ := Marshal(Default("acme-corp"))
	f.Add(def)
	f.Add([]byte("operations: {}\nroster:\n  - {serial: 7, admin: A, role: founder, burned: true}\n"))
	f.Add([]byte("a: &a [x]\nb: *a\n"))
	f.Add([]byte("operations:\n  x: [low,\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		p, err := Parse(data)
		if err != nil {
			var errs []error
			if j, ok := err.(interface{ Unwrap() []error }); ok {
				errs = j.Unwrap()
			} else {
				errs = []error{err}
			}
			for _, e := range errs {
				pe, ok := e.(*Error)
				if !ok {
					t.Fatalf("error %v is a %T, not an *Error", e, e)
				}
				if pe.Line <= 0 && pe.Err == nil {
					t.Fatalf("error %q has neither a line nor a reason", pe)
				}
			}
			return
		}
		b, err := Marshal(p)
		if err != nil {
			t.Fatalf("Marshal of a parsed policy: %v", err)
		}
		again, err := Parse(b)
		if err != nil {
			t.Fatalf("Parse(Marshal(Parse(data))):\n%s\n%v", b, err)
		}
		if !reflect.DeepEqual(again, p) {
			t.Fatalf("round trip changed the policy:\n%+v\n%+v", p, again)
		}
	})
}
