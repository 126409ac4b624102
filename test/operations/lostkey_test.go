//go:build linux

package operations

import (
	"crypto/x509"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/kiwistack/endpoint/enroll/adminjson"
	"github.com/kiwistack/endpoint/enroll/enrolljson"
	"github.com/kiwistack/endpoint/server/devices"
	"github.com/kiwistack/endpoint/test/e2e"
	"github.com/kiwistack/endpoint/test/pcsctest"
)

// requestPolicyChange requests policy_change to the policy document in
// file and returns it as the API answered.
func requestPolicyChange(t *testing.T, tn *e2e.Tenant, file string) adminjson.Operation {
	t.Helper()
	var res adminjson.Operation
	out := e2e.MustRun(t, "", "kiwistack-enroll", adminArgs(tn, "request", "policy_change", "--document", file)...)
	if err := json.Unmarshal([]byte(out), &res); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	return res
}

// status returns operation id as `admin status ID` shows it.
func status(t *testing.T, tn *e2e.Tenant, id string) adminjson.Operation {
	t.Helper()
	var res adminjson.Operation
	out := e2e.MustRun(t, "", "kiwistack-enroll", adminArgs(tn, "status", id)...)
	if err := json.Unmarshal([]byte(out), &res); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	return res
}

// lockedOut returns the operation names of an instance's lockouts
// ("operation: reason").
func lockedOut(lockouts []string) []string {
	var ops []string
	for _, l := range lockouts {
		op, _, _ := strings.Cut(l, ":")
		ops = append(ops, op)
	}
	return ops
}

// TestLostFounderKey is seed D4 scenario 01 for the only founder key, with
// virtual YubiKeys against `kiwistack-api dev`: the sysadmin burns the
// founder's lost key alone; the founder's pending approval becomes void and
// its new signatures are refused (key_burned); the burn answer and status
// name the operations needing a founder; the laptop the sysadmin enrolled
// stays active with a certificate that verifies; a replacement founder key
// provisioned from the same intermediate and added with `kiwistack-api
// roster add` (no founder can sign add_admin) co-signs a policy_change that
// is applied.
func TestLostFounderKey(t *testing.T) {
	pcsctest.Require(t)
	fk := pcsctest.Start(t, pcsctest.Options{Version: "5.7.1"})
	sk := pcsctest.Start(t, pcsctest.Options{Version: "5.7.1"})
	root, _ := pcsctest.AttestationRoot(t)
	attRoot := e2e.WriteAttestationRoot(t, root)
	tn := e2e.StartTenant(t, attRoot)
	founder := e2e.Provision(t, tn, fk, attRoot, "Fiona Founder", "founder")
	sysadmin := e2e.Provision(t, tn, sk, attRoot, "Sam Sysadmin", "sysadmin")

	// A laptop enrolled by the sysadmin.
	var enrolled enrolljson.Result
	out := e2e.MustRun(t, sysadmin.PIN+"\n", "kiwistack-enroll", e2e.EnrollArgs(tn, sysadmin, t.TempDir())...)
	if err := json.Unmarshal([]byte(out), &enrolled); err != nil {
		t.Fatalf("%v: %s", err, out)
	}

	// The default policy, unchanged, as policy_change's document.
	doc := filepath.Join(t.TempDir(), "authorization.yaml")
	pol := e2e.MustRun(t, "", "kiwistack-api", "policy", "default", "--tenant", e2e.TenantName)
	if err := os.WriteFile(doc, []byte(pol), 0o644); err != nil {
		t.Fatal(err)
	}

	// Before the loss: the founder approves a policy_change (pending, the
	// sysadmin's signature missing); another one waits for signatures.
	signedBefore := requestPolicyChange(t, tn, doc)
	if got := sign(t, tn, founder, "sign", signedBefore.Operation.ID); got.Operation.State != "pending" {
		t.Fatalf("policy_change with the founder's signature only: %+v", got.Operation)
	}
	unsigned := requestPolicyChange(t, tn, doc)

	// The founder's key is lost: the sysadmin burns it alone.
	burn := request(t, tn, "burn_key", fmt.Sprintf("serial=%d", founder.Key.Serial), "reason=lost")
	burned := sign(t, tn, sysadmin, "sign", burn.Operation.ID)
	if burned.Operation.State != "applied" {
		t.Fatalf("burn_key signed by the sysadmin: %+v", burned.Operation)
	}
	founderOps := []string{"add_admin", "policy_change", "remove_admin", "rotate_intermediate"}
	for _, answer := range []adminjson.Operation{burned, status(t, tn, burn.Operation.ID)} {
		ops := lockedOut(answer.Operation.Lockouts)
		for _, want := range founderOps {
			if !slices.Contains(ops, want) {
				t.Errorf("burn_key lockouts %q do not name %s", answer.Operation.Lockouts, want)
			}
		}
		for _, still := range []string{"burn_key", "remote_lock", "enroll_device"} {
			if slices.Contains(ops, still) {
				t.Errorf("burn_key lockouts %q name %s, which the sysadmin can still sign", answer.Operation.Lockouts, still)
			}
		}
	}

	// The founder's pending approval is void ...
	before := status(t, tn, signedBefore.Operation.ID).Operation
	if len(before.Signatures) != 1 || before.Signatures[0].Counted || before.Signatures[0].Reason != "key_burned" {
		t.Errorf("the founder's approval after the burn: %+v", before.Signatures)
	}
	if before.State == "applied" || before.State == "approved" {
		t.Errorf("policy_change approved by a burned key only: %+v", before)
	}
	// ... and its new signatures are refused.
	out, errOut, code := e2e.Run(t, founder.PIN+"\n", "kiwistack-enroll",
		adminArgs(tn, "sign", "--pin-stdin", "--reader", founder.Key.Reader, unsigned.Operation.ID)...)
	if code == 0 || !strings.Contains(errOut, "key_burned") {
		t.Errorf("signing with the burned founder key: exit %d\n%s\n%s", code, out, errOut)
	}
	// No founder left: a founder-requiring operation cannot even be asked for.
	out, errOut, code = e2e.Run(t, "", "kiwistack-enroll", adminArgs(tn, "request", "policy_change", "--document", doc)...)
	if code == 0 || !strings.Contains(errOut, "lockout") {
		t.Errorf("policy_change without a founder: exit %d\n%s\n%s", code, out, errOut)
	}

	// The laptop the sysadmin enrolled keeps working: active, and its
	// certificate still verifies against the tenant root.
	var list []devices.ListEntry
	out = e2e.MustRun(t, "", "kiwistack-api", "devices", "list", "--state", tn.State, "--json")
	if err := json.Unmarshal([]byte(out), &list); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	i := slices.IndexFunc(list, func(d devices.ListEntry) bool { return d.ID == enrolled.DeviceID })
	if i < 0 || list[i].Status != "active" || list[i].EnrolledBy != sysadmin.Key.Serial {
		t.Errorf("device %s after the burn: %+v", enrolled.DeviceID, list)
	}
	chain := e2e.ReadCerts(t, enrolled.Files.Certificate)
	roots, inter := x509.NewCertPool(), x509.NewCertPool()
	for _, c := range e2e.ReadCerts(t, enrolled.Files.Root) {
		roots.AddCert(c)
	}
	for _, c := range chain[1:] {
		inter.AddCert(c)
	}
	if _, err := chain[0].Verify(x509.VerifyOptions{Roots: roots, Intermediates: inter,
		KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny}}); err != nil {
		t.Errorf("the device certificate after the burn: %v", err)
	}

	// The way back: a replacement founder key from the same intermediate,
	// added by the MSP with roster add.
	rk := pcsctest.Start(t, pcsctest.Options{Version: "5.7.1"})
	replacement := e2e.Provision(t, tn, rk, attRoot, "Fiona Founder", "founder")
	if got := status(t, tn, burn.Operation.ID); len(got.Operation.Lockouts) != 0 {
		t.Errorf("lockouts with the replacement founder: %q", got.Operation.Lockouts)
	}
	change := requestPolicyChange(t, tn, doc)
	if got := sign(t, tn, replacement, "sign", change.Operation.ID); got.Operation.State != "pending" {
		t.Fatalf("policy_change with the replacement founder's signature: %+v", got.Operation)
	}
	if got := sign(t, tn, sysadmin, "sign", change.Operation.ID); got.Operation.State != "applied" {
		t.Fatalf("policy_change signed by the replacement founder and the sysadmin: %+v", got.Operation)
	}
}
