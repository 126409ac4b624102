package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/kiwistack/endpoint/internal/cli"
)

// runAPI runs the API's command tree as main builds it, with buffers.
func runAPI(args ...string) (string, string, int) {
	var out, errb bytes.Buffer
	stdio := cli.IO{In: strings.NewReader(""), Out: &out, Err: &errb}
	code := cli.Run(context.Background(), "kiwistack-api", short, stdio, args, commands)
	return out.String(), errb.String(), code
}

func writeFile(t *testing.T, name, content string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestPolicyDefaultThenCheck(t *testing.T) {
	out, errOut, code := runAPI("policy", "default", "--tenant", "acme-corp")
	if code != 0 {
		t.Fatalf("policy default: exit %d: %s", code, errOut)
	}
	for _, want := range []string{"tenant: acme-corp\n", "  tenant_delete:\n", "    delay: 14d\n", "roster: []"} {
		if !strings.Contains(out, want) {
			t.Errorf("default policy lacks %q:\n%s", want, out)
		}
	}
	path := writeFile(t, "authorization.yaml", out)
	out, errOut, code = runAPI("policy", "check", path)
	if code != 0 {
		t.Fatalf("policy check of the default: exit %d: %s", code, errOut)
	}
	if !strings.Contains(out, path+": valid: 20 operations, roles founder > sysadmin > office-mgr") || !strings.Contains(out, "lock-out check was skipped") {
		t.Errorf("output = %q", out)
	}
}

func TestPolicyCheck(t *testing.T) {
	const roster = "roster:\n  - {serial: 1, admin: Marie Schmidt, role: founder}\n  - {serial: 2, admin: John Doe, role: sysadmin}\n"
	tests := []struct {
		name, content string
		code          int
		out, err      string
	}{
		{"valid with roster", "operations:\n  add_admin: {sensitivity: critical, sigs_required: 2, roles: [founder, sysadmin], window: 5m}\n" + roster,
			0, "valid: 1 operations, roles founder > sysadmin > office-mgr, 2 roster keys (0 burned)", ""},
		{"bad line", "operations:\n  add_admin:\n    sensitivity: critical\n    sigs_required: two\n", 1,
			"", `authorization.yaml:4:20: operations.add_admin.sigs_required: want a positive integer, got "two"`},
		{"lock-out", "operations:\n  rotate_intermediate: {sensitivity: high, sigs_required: 1, role: founder}\nroster:\n  - {serial: 2, admin: John Doe, role: sysadmin}\n",
			1, "", "operations.rotate_intermediate: cannot be signed with this roster: needs 1 distinct unburned key of role founder or above"},
		{"too large", strings.Repeat("#", 2<<20), 1, "", "authorization.yaml: policy file too large"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := writeFile(t, "authorization.yaml", tt.content)
			out, errOut, code := runAPI("policy", "check", path)
			if code != tt.code || !strings.Contains(out, tt.out) || !strings.Contains(errOut, tt.err) {
				t.Errorf("exit %d, stdout %q, stderr %q; want exit %d, %q and %q", code, out, errOut, tt.code, tt.out, tt.err)
			}
		})
	}
}

func TestPolicyUsage(t *testing.T) {
	tests := []struct {
		args []string
		code int
		err  string
	}{
		{[]string{"policy", "check"}, cli.ExitUsage, "accepts 1 arg"},
		{[]string{"policy", "check", filepath.Join(t.TempDir(), "missing.yaml")}, cli.ExitNotFound, "no such file"},
		{[]string{"policy", "default", "--tenant", "Acme Corp"}, cli.ExitUsage, `tenant "Acme Corp"`},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			_, errOut, code := runAPI(tt.args...)
			if code != tt.code || !strings.Contains(errOut, tt.err) {
				t.Errorf("exit %d, stderr %q; want exit %d and %q", code, errOut, tt.code, tt.err)
			}
		})
	}
}
