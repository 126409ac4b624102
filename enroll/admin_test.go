package enroll

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/json"
	"errors"
	"math/big"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/kiwistack/endpoint/enroll/adminjson"
	"github.com/kiwistack/endpoint/enroll/apiclient"
	"github.com/kiwistack/endpoint/enroll/protocol"
	"github.com/kiwistack/endpoint/server/ca"
	"github.com/kiwistack/endpoint/server/dev"
	"github.com/kiwistack/endpoint/server/store"
)

// adminTenant is a running dev tenant (the real API, store and embedded
// step-ca behind pinned TLS) with software stand-ins for admin YubiKeys.
type adminTenant struct {
	dir     string
	info    dev.Info
	signers map[string]SoftwareSigner
	stderr  bytes.Buffer // what the runners wrote to stderr
}

func startAdminTenant(t *testing.T) *adminTenant {
	t.Helper()
	const slug = "acme-corp"
	dir := t.TempDir()
	ctx, cancel := context.WithCancel(context.Background())
	ready := make(chan dev.Info, 1)
	done := make(chan error, 1)
	go func() {
		done <- dev.Run(ctx, dev.Options{StateDir: dir, Tenant: slug, Listen: "127.0.0.1:0", Ready: func(i dev.Info) { ready <- i }})
	}()
	at := &adminTenant{dir: dir, signers: map[string]SoftwareSigner{}}
	select {
	case at.info = <-ready:
	case err := <-done:
		cancel()
		t.Fatalf("dev.Run: %v", err)
	case <-time.After(30 * time.Second):
		cancel()
		t.Fatal("dev tenant not ready after 30 s")
	}
	t.Cleanup(func() {
		cancel()
		<-done
	})
	pki, err := ca.LoadOrCreatePKI(dev.CAPath(dir), slug, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	st, err := store.Open(ctx, dev.DBPath(dir))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	for i, role := range []string{"founder", "sysadmin", "office-mgr"} {
		k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		tmpl := &x509.Certificate{SerialNumber: big.NewInt(int64(100 + i)),
			Subject:   pkix.Name{CommonName: "Admin " + role, OrganizationalUnit: []string{role}, Organization: []string{slug}},
			NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
			KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, pki.Intermediate, &k.PublicKey, pki.IntermediateKey)
		if err != nil {
			t.Fatal(err)
		}
		c, _ := x509.ParseCertificate(der)
		sum := sha256.Sum256(c.RawSubjectPublicKeyInfo)
		serial := uint32(5000 + i)
		if err := st.AddRosterEntry(ctx, store.RosterEntry{Serial: serial, Admin: c.Subject.CommonName, Role: role,
			SPKISHA256: hex.EncodeToString(sum[:])}); err != nil {
			t.Fatal(err)
		}
		at.signers[role] = SoftwareSigner{Key: k, Cert: c, SerialNo: serial}
	}
	return at
}

// admin returns a runner signing as role, writing to out.
func (at *adminTenant) admin(role string, out *bytes.Buffer) Admin {
	return Admin{
		Dial: func(ctx context.Context, apiURL, fp string) (AdminAPI, error) { return apiclient.Dial(ctx, apiURL, fp) },
		OpenSigner: func(context.Context, uint32) (StatementSigner, error) {
			return at.signers[role], nil
		},
		Out: out,
		// What a read grant asks to sign goes to stderr, apart from the
		// JSON on stdout.
		Err: &at.stderr,
	}
}

func (at *adminTenant) opts(asJSON bool) AdminOptions {
	return AdminOptions{APIURL: at.info.APIURL, Tenant: "acme-corp", RootFingerprint: at.info.RootFingerprint, JSON: asJSON}
}

func TestAdminVerbs(t *testing.T) {
	at := startAdminTenant(t)
	ctx := context.Background()
	var out bytes.Buffer

	// request burn_key of the office manager's key, as JSON.
	if err := at.admin("sysadmin", &out).Request(ctx, at.opts(true), "burn_key", map[string]string{"serial": "5002", "reason": "lost on a train"}, ""); err != nil {
		t.Fatal(err)
	}
	var req adminjson.Operation
	if err := json.Unmarshal(out.Bytes(), &req); err != nil || req.Schema != adminjson.Schema || req.Operation.State != "pending" {
		t.Fatalf("request --json: %v %s", err, out.String())
	}
	id := req.Operation.ID

	// sign shows the operation in words before signing.
	out.Reset()
	if err := at.admin("sysadmin", &out).Sign(ctx, at.opts(false), id); err != nil {
		t.Fatal(err)
	}
	text := out.String()
	for _, want := range []string{
		"You are about to approve operation " + id,
		"burn_key of YubiKey 5002 (Admin office-mgr, office-mgr) in acme-corp (reason: lost on a train)",
		"serial", "5002", "required", "sysadmin",
		"Signed by YubiKey 5001 (Admin sysadmin, sysadmin)", "is now applied", "Effect: YubiKey 5002 burned",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("sign output lacks %q:\n%s", want, text)
		}
	}
	if i, j := strings.Index(text, "burn_key of YubiKey"), strings.Index(text, "Signed by"); i < 0 || j < i {
		t.Error("the operation is not shown before the signature")
	}

	// signing an applied operation is refused before the key is used.
	out.Reset()
	if err := at.admin("founder", &out).Sign(ctx, at.opts(false), id); err == nil || !strings.Contains(err.Error(), "nothing to sign") {
		t.Errorf("signing an applied operation: %v", err)
	}

	// the office manager's burned key is refused by the API.
	out.Reset()
	if err := at.admin("office-mgr", &out).Request(ctx, at.opts(true), "tenant_delete", nil, ""); err != nil {
		t.Fatal(err)
	}
	_ = json.Unmarshal(out.Bytes(), &req)
	tdID := req.Operation.ID
	out.Reset()
	err := at.admin("office-mgr", &out).Sign(ctx, at.opts(false), tdID)
	var ae *apiclient.Error
	if !errors.As(err, &ae) || ae.Reason != "key_burned" {
		t.Errorf("burned key: %v", err)
	}

	// tenant_delete: two admins stage it, the dev operator co-signs, an admin cancels.
	for _, role := range []string{"founder", "sysadmin"} {
		out.Reset()
		if err := at.admin(role, &out).Sign(ctx, at.opts(false), tdID); err != nil {
			t.Fatalf("%s: %v", role, err)
		}
	}
	if !strings.Contains(out.String(), "staged until") {
		t.Errorf("after two admins: %s", out.String())
	}
	out.Reset()
	if err := dev.OperatorSign(ctx, &out, at.dir, at.info.APIURL, tdID); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "delay_running") && !strings.Contains(out.String(), "staged until") {
		t.Errorf("after the operator: %s", out.String())
	}
	out.Reset()
	if err := at.admin("sysadmin", &out).Cancel(ctx, at.opts(false), tdID); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "You are about to CANCEL") || !strings.Contains(out.String(), "is now cancelled") {
		t.Errorf("cancel output:\n%s", out.String())
	}

	// status, list and audit.
	out.Reset()
	if err := at.admin("sysadmin", &out).Status(ctx, at.opts(false), id); err != nil || !strings.Contains(out.String(), "applied") {
		t.Errorf("status: %v %s", err, out.String())
	}
	out.Reset()
	if err := at.admin("sysadmin", &out).List(ctx, at.opts(true), ""); err != nil {
		t.Fatal(err)
	}
	var l adminjson.List
	if err := json.Unmarshal(out.Bytes(), &l); err != nil || len(l.Operations) != 3 ||
		!slices.ContainsFunc(l.Operations, func(op protocol.OperationInstance) bool {
			return op.Operation == "read_status" && op.State == "applied"
		}) {
		t.Errorf("list (the two operations and its own applied read_status grant): %v %s", err, out.String())
	}
	if !strings.Contains(at.stderr.String(), "You are about to approve") || !strings.Contains(at.stderr.String(), "read_status of acme-corp") {
		t.Errorf("the read grant was not shown before signing:\n%s", at.stderr.String())
	}
	out.Reset()
	if err := at.admin("sysadmin", &out).Audit(ctx, at.opts(true), true); err != nil {
		t.Fatal(err)
	}
	var a adminjson.Audit
	if err := json.Unmarshal(out.Bytes(), &a); err != nil || !a.Verified || a.HeadSeq < 8 {
		t.Errorf("audit: %v %+v", err, a)
	}
}

func TestParseParams(t *testing.T) {
	p, err := ParseParams([]string{"device_id=d-1", "reason=a=b"})
	if err != nil || p["device_id"] != "d-1" || p["reason"] != "a=b" {
		t.Fatalf("%v %v", p, err)
	}
	for _, bad := range [][]string{{"x"}, {"=v"}, {"a=1", "a=2"}, {"c=@/nonexistent"}} {
		if _, err := ParseParams(bad); err == nil {
			t.Errorf("%v accepted", bad)
		}
	}
}
