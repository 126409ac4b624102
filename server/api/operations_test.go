package api

import (
	"context"
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"math/big"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/kiwistack/endpoint/enroll/protocol"
	"github.com/kiwistack/endpoint/server/policy"
	"github.com/kiwistack/endpoint/server/store"
)

// clock is an injectable clock for the operations tests.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// revokeRecorder is the real CA, recording revocations.
type revokeRecorder struct {
	CA
	mu      sync.Mutex
	revoked []string
}

func (r *revokeRecorder) Revoke(ctx context.Context, serial, reason string) error {
	r.mu.Lock()
	r.revoked = append(r.revoked, serial)
	r.mu.Unlock()
	return nil
}

// opsEnv is an API with a clock, an operator anchor and admins whose
// certificates outlive the delays.
type opsEnv struct {
	*env
	clock    *clock
	ca       *revokeRecorder
	operator admin
	founder  admin
	sysadmin admin
	office   admin
}

func newOpsEnv(t *testing.T, configure ...func(*Config)) *opsEnv {
	t.Helper()
	o := &opsEnv{clock: &clock{t: time.Now().UTC().Truncate(time.Second)}}
	opRoot, opKey := operatorCA(t)
	o.operator = operatorAdmin(t, opRoot, opKey)
	pool := x509.NewCertPool()
	pool.AddCert(opRoot)
	o.env = newEnv(t, append([]func(*Config){func(c *Config) {
		c.Now = o.clock.Now
		o.ca = &revokeRecorder{CA: c.CA}
		c.CA = o.ca
		c.OperatorRoots = pool
	}}, configure...)...)
	o.sysadmin = o.longAdmin(t, 1001, RoleSysadmin)
	o.founder = o.longAdmin(t, 2000, RoleFounder)
	o.office = o.longAdmin(t, 3000, RoleOfficeMgr)
	return o
}

// longAdmin adds an admin whose certificate is valid for 60 days.
func (o *opsEnv) longAdmin(t *testing.T, serial uint32, role string) admin {
	t.Helper()
	k := newKey(t)
	c := issueAdmin(t, o.pki, k, fmt.Sprintf("admin-%d", serial), role, tenant, time.Now().Add(-time.Hour), time.Now().Add(60*24*time.Hour))
	o.roster(t, serial, c)
	return admin{serial: serial, key: k, cert: c}
}

// operatorCA makes a KiwiStack operator root.
func operatorCA(t *testing.T) (*x509.Certificate, *ecdsa.PrivateKey) {
	t.Helper()
	k := newKey(t)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "KiwiStack operators", Organization: []string{"KiwiStack"}},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(365 * 24 * time.Hour), IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &k.PublicKey, k)
	if err != nil {
		t.Fatal(err)
	}
	c, _ := x509.ParseCertificate(der)
	return c, k
}

// operatorAdmin issues an operator's signing certificate.
func operatorAdmin(t *testing.T, root *x509.Certificate, rootKey *ecdsa.PrivateKey) admin {
	t.Helper()
	k := newKey(t)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "operator-1", Organization: []string{"KiwiStack"}, OrganizationalUnit: []string{"operator"}},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(60 * 24 * time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, root, &k.PublicKey, rootKey)
	if err != nil {
		t.Fatal(err)
	}
	c, _ := x509.ParseCertificate(der)
	return admin{serial: 9999, key: k, cert: c}
}

// errorOf decodes an error body.
func errorOf(t *testing.T, body []byte) protocol.ErrorResponse {
	t.Helper()
	var er protocol.ErrorResponse
	if err := json.Unmarshal(body, &er); err != nil {
		t.Fatalf("not an error body: %s", body)
	}
	return er
}

// request posts an operation request and returns the status and body.
func (o *opsEnv) request(t *testing.T, op string, params map[string]string, doc string) (int, []byte) {
	t.Helper()
	b, _ := json.Marshal(protocol.OperationRequest{Operation: op, Tenant: tenant, Params: params, Document: doc})
	return o.post(t, "/v1/operations", ctJSON, b)
}

// mustRequest requests an operation that must be created.
func (o *opsEnv) mustRequest(t *testing.T, op string, params map[string]string, doc string) protocol.OperationInstance {
	t.Helper()
	status, body := o.request(t, op, params, doc)
	if status != http.StatusCreated {
		t.Fatalf("requesting %s: %d %s", op, status, body)
	}
	return decodeInstance(t, body)
}

func decodeInstance(t *testing.T, body []byte) protocol.OperationInstance {
	t.Helper()
	var inst protocol.OperationInstance
	if err := json.Unmarshal(body, &inst); err != nil {
		t.Fatalf("%v: %s", err, body)
	}
	if err := inst.Validate(); err != nil {
		t.Fatalf("instance does not validate: %v: %s", err, body)
	}
	return inst
}

// statement signs the approval (or, with cancel, the cancel) of inst by a.
func (o *opsEnv) statement(t *testing.T, a admin, inst protocol.OperationInstance, cancel bool) string {
	t.Helper()
	op := inst.ProtocolOperation()
	if cancel {
		op = inst.CancelOperation()
	}
	st := protocol.Statement{Operation: op.ID, Tenant: op.Tenant, Timestamp: protocol.FormatTimestamp(o.clock.Now()),
		YubiKeySerial: a.serial, Nonce: op.Nonce, Params: op.Params}
	var err error
	if st.Digest, err = op.Digest(); err != nil {
		t.Fatal(err)
	}
	compact, err := protocol.Sign(context.Background(), protocol.SignerFrom(a.key), []*x509.Certificate{a.cert}, &st)
	if err != nil {
		t.Fatal(err)
	}
	return compact
}

// sign posts a's approval of inst.
func (o *opsEnv) sign(t *testing.T, a admin, inst protocol.OperationInstance) (int, []byte) {
	t.Helper()
	return o.postStatement(t, inst.ID, "signatures", o.statement(t, a, inst, false))
}

func (o *opsEnv) postStatement(t *testing.T, id, what, compact string) (int, []byte) {
	t.Helper()
	b, _ := json.Marshal(protocol.SignatureRequest{Statement: compact})
	return o.post(t, "/v1/operations/"+id+"/"+what, ctJSON, b)
}

// mustSign signs and wants 200; it returns the instance.
func (o *opsEnv) mustSign(t *testing.T, a admin, inst protocol.OperationInstance) protocol.OperationInstance {
	t.Helper()
	status, body := o.sign(t, a, inst)
	if status != http.StatusOK {
		t.Fatalf("signing %s by %d: %d %s", inst.Operation, a.serial, status, body)
	}
	return decodeInstance(t, body)
}

// get reads an operation.
func (o *opsEnv) get(t *testing.T, id string) protocol.OperationInstance {
	t.Helper()
	resp, err := o.srv.Client().Get(o.srv.URL + "/v1/operations/" + id)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var inst protocol.OperationInstance
	if err := json.NewDecoder(resp.Body).Decode(&inst); err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("get %s: %d %v", id, resp.StatusCode, err)
	}
	return inst
}

// lastAudit returns the newest n audit entries, oldest first.
func (o *opsEnv) lastAudit(t *testing.T, n int) []store.AuditEntry {
	t.Helper()
	head := o.audits(t)
	es, err := o.st.AuditEntries(context.Background(), max(0, head-int64(n)), n)
	if err != nil {
		t.Fatal(err)
	}
	return es
}

// results lists the result/reason of audit entries.
func results(es []store.AuditEntry) string {
	var out []string
	for _, e := range es {
		s := e.Result
		if e.Reason != "" && e.Result != resultRequested {
			s += ":" + e.Reason
		}
		out = append(out, s)
	}
	return strings.Join(out, " ")
}

// addDevice records a device enrolled by the sysadmin, with one certificate.
func (o *opsEnv) addDevice(t *testing.T, id string) store.Device {
	t.Helper()
	d, err := o.st.CreateDevice(context.Background(), store.Device{ID: id, Tenant: tenant, HardwareFingerprint: "hw-" + id,
		WireGuardPublicKey: wgKey(), Status: store.StatusActive, EnrolledBy: 1000,
		Certificates: []store.DeviceCertificate{{Serial: "0a1b", NotAfter: time.Now().Add(time.Hour), IssuedAt: time.Now()}}})
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func TestOperationRemoteWipe(t *testing.T) {
	o := newOpsEnv(t)
	o.addDevice(t, "d-wipe")
	before := o.audits(t)
	inst := o.mustRequest(t, protocol.OpRemoteWipe, map[string]string{protocol.ParamDeviceID: "d-wipe", protocol.ParamReason: "stolen"}, "")
	if inst.State != "pending" || inst.Description != "remote_wipe of device d-wipe in acme (reason: stolen)" ||
		len(inst.RequiredRoles) != 1 || inst.RequiredRoles[0] != RoleSysadmin || len(inst.ID) != 25 || !strings.HasPrefix(inst.ID, "op-") {
		t.Fatalf("instance %+v", inst)
	}
	if got := o.audits(t) - before; got != 1 {
		t.Errorf("request wrote %d audit entries, want 1", got)
	}
	// An office manager's signature is refused, with one audit entry.
	before = o.audits(t)
	status, body := o.sign(t, o.office, inst)
	if er := errorOf(t, body); status != http.StatusForbidden || er.Reason != ReasonRoleInsufficient {
		t.Fatalf("office-mgr: %d %s", status, body)
	}
	if got := results(o.lastAudit(t, int(o.audits(t)-before))); got != "rejected:role_insufficient" {
		t.Errorf("audit %q", got)
	}
	before = o.audits(t)
	inst = o.mustSign(t, o.sysadmin, inst)
	if inst.State != "applied" || !strings.Contains(inst.Effect, "wiped") || inst.AppliedAt == "" {
		t.Fatalf("after the sysadmin: %+v", inst)
	}
	if got := results(o.lastAudit(t, int(o.audits(t)-before))); got != "signed:approval approved applied" {
		t.Errorf("audit %q", got)
	}
	d, err := o.st.DeviceByID(context.Background(), "d-wipe")
	if err != nil || d.Status != store.StatusWiped {
		t.Fatalf("device %+v %v", d, err)
	}
	if o.ca.revoked == nil || o.ca.revoked[0] != "2587" { // 0x0a1b
		t.Errorf("revoked %v, want the device certificate 2587", o.ca.revoked)
	}
	// Signing a closed operation: operation_closed, one audit entry.
	before = o.audits(t)
	status, body = o.sign(t, o.founder, inst)
	if er := errorOf(t, body); status != http.StatusConflict || er.Reason != ReasonOperationClosed {
		t.Fatalf("closed: %d %s", status, body)
	}
	if got := o.audits(t) - before; got != 1 {
		t.Errorf("%d audit entries, want 1", got)
	}
	// A second wipe of the wiped device is refused at request time.
	if status, body := o.request(t, protocol.OpRemoteWipe, map[string]string{protocol.ParamDeviceID: "d-wipe"}, ""); status != http.StatusConflict {
		t.Errorf("wiping twice: %d %s", status, body)
	}
}

func TestOperationRemoteLockAndReenrollConsent(t *testing.T) {
	o := newOpsEnv(t)
	o.addDevice(t, "d-lock")
	inst := o.mustSign(t, o.founder, o.mustRequest(t, protocol.OpRemoteLock, map[string]string{protocol.ParamDeviceID: "d-lock"}, ""))
	if d, _ := o.st.DeviceByID(context.Background(), "d-lock"); inst.State != "applied" || d.Status != store.StatusLocked {
		t.Fatalf("lock: %s, device %s", inst.State, d.Status)
	}
	inst = o.mustSign(t, o.sysadmin, o.mustRequest(t, protocol.OpReenrollConsent, map[string]string{protocol.ParamDeviceID: "d-lock"}, ""))
	r, err := o.st.Reenrollment(context.Background(), "hw-d-lock")
	if inst.State != "applied" || err != nil || r.DeviceID != "d-lock" || r.AllowedBy != o.sysadmin.serial {
		t.Fatalf("reenroll consent: %s, allowance %+v %v", inst.State, r, err)
	}
}

func TestOperationRequestRejects(t *testing.T) {
	o := newOpsEnv(t)
	o.addDevice(t, "d-1")
	badPolicy := policy.Default(tenant)
	op := badPolicy.Operations["add_admin"]
	op.SigsRequired, op.Roles = 3, []string{"founder", "founder"}
	badPolicy.Operations["add_admin"] = op
	badDoc := mustMarshal(t, badPolicy)
	for _, tc := range []struct {
		name   string
		body   protocol.OperationRequest
		status int
		reason string
	}{
		{"other tenant", protocol.OperationRequest{Operation: protocol.OpRemoteLock, Tenant: "globex", Params: map[string]string{"device_id": "d-1"}}, 403, ReasonTenantMismatch},
		{"unknown operation", protocol.OperationRequest{Operation: "launch_rockets", Tenant: tenant, Params: map[string]string{}}, 400, ReasonUnknownOperation},
		{"not available", protocol.OperationRequest{Operation: "open_ticket", Tenant: tenant, Params: map[string]string{}}, 400, ReasonOperationNotAvailable},
		{"enroll_device", protocol.OperationRequest{Operation: "enroll_device", Tenant: tenant, Params: map[string]string{}}, 400, protocol.ReasonMalformed},
		{"missing parameter", protocol.OperationRequest{Operation: protocol.OpRemoteLock, Tenant: tenant, Params: map[string]string{}}, 400, ReasonInvalidParams},
		{"unknown parameter", protocol.OperationRequest{Operation: protocol.OpRemoteLock, Tenant: tenant, Params: map[string]string{"device_id": "d-1", "x": "y"}}, 400, ReasonInvalidParams},
		{"unknown device", protocol.OperationRequest{Operation: protocol.OpRemoteWipe, Tenant: tenant, Params: map[string]string{"device_id": "d-nope"}}, 404, ReasonUnknownDevice},
		{"burn unknown key", protocol.OperationRequest{Operation: protocol.OpBurnKey, Tenant: tenant, Params: map[string]string{"serial": "424242"}}, 404, ReasonUnknownKey},
		{"burn bad serial", protocol.OperationRequest{Operation: protocol.OpBurnKey, Tenant: tenant, Params: map[string]string{"serial": "x"}}, 400, ReasonInvalidParams},
		{"remove the only founder", protocol.OperationRequest{Operation: protocol.OpRemoveAdmin, Tenant: tenant, Params: map[string]string{"serial": "2000"}}, 409, ReasonLockout},
		{"policy without document", protocol.OperationRequest{Operation: protocol.OpPolicyChange, Tenant: tenant, Params: map[string]string{"document_sha256": protocol.DocumentSHA256("x")}}, 400, ReasonInvalidParams},
		{"policy that locks out", protocol.OperationRequest{Operation: protocol.OpPolicyChange, Tenant: tenant,
			Params: map[string]string{"document_sha256": protocol.DocumentSHA256(badDoc)}, Document: badDoc}, 409, ReasonLockout},
		{"policy not parsable", protocol.OperationRequest{Operation: protocol.OpPolicyChange, Tenant: tenant,
			Params: map[string]string{"document_sha256": protocol.DocumentSHA256("roles: 1")}, Document: "roles: 1"}, 400, ReasonInvalidParams},
		{"document digest mismatch", protocol.OperationRequest{Operation: protocol.OpPolicyChange, Tenant: tenant,
			Params: map[string]string{"document_sha256": protocol.DocumentSHA256("a")}, Document: "b"}, 400, protocol.ReasonMalformed},
		{"add_admin foreign certificate", protocol.OperationRequest{Operation: protocol.OpAddAdmin, Tenant: tenant, Params: map[string]string{
			"serial": "5000", "admin": "Eve", "role": "founder", "public_key_sha256": strings.Repeat("0", 64), "certificate": foreignCert(t)}}, 400, ReasonInvalidParams},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := o.audits(t)
			b, _ := json.Marshal(tc.body)
			status, body := o.post(t, "/v1/operations", ctJSON, b)
			if er := errorOf(t, body); status != tc.status || er.Reason != tc.reason || er.Message == "" {
				t.Fatalf("%d %s, want %d %s", status, body, tc.status, tc.reason)
			}
			es := o.lastAudit(t, int(o.audits(t)-before))
			if len(es) != 1 || es[0].Result != resultRejected || es[0].Reason != tc.reason {
				t.Errorf("audit %+v, want one rejected %s", es, tc.reason)
			}
		})
	}
}

func mustMarshal(t *testing.T, p *policy.Policy) string {
	t.Helper()
	b, err := policy.Marshal(p)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// foreignCert is a PEM certificate of another tenant's CA.
func foreignCert(t *testing.T) string {
	_, pki, _ := openCA(t, "globex")
	c := issueAdmin(t, pki, newKey(t), "Eve", "founder", "globex", time.Now().Add(-time.Hour), time.Now().Add(time.Hour))
	return string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Raw}))
}

// addAdminParams are the add_admin parameters of a new key of role.
func (o *opsEnv) addAdminParams(t *testing.T, serial uint32, role string) (map[string]string, admin) {
	t.Helper()
	k := newKey(t)
	c := issueAdmin(t, o.pki, k, fmt.Sprintf("New %d", serial), role, tenant, time.Now().Add(-time.Hour), time.Now().Add(60*24*time.Hour))
	sum := sha256.Sum256(c.RawSubjectPublicKeyInfo)
	return map[string]string{
		"serial": fmt.Sprint(serial), "admin": c.Subject.CommonName, "role": role,
		"public_key_sha256": hex.EncodeToString(sum[:]), "certificate": string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Raw})),
	}, admin{serial: serial, key: k, cert: c}
}

func TestOperationAddAdminCritical(t *testing.T) {
	o := newOpsEnv(t)
	params, newcomer := o.addAdminParams(t, 4000, RoleFounder)
	inst := o.mustRequest(t, protocol.OpAddAdmin, params, "")
	if got := strings.Join(inst.RequiredRoles, ","); got != "founder,sysadmin" || inst.Window != "5m0s" {
		t.Fatalf("required %s window %s", got, inst.Window)
	}
	inst = o.mustSign(t, o.founder, inst)
	if inst.State != "pending" || len(inst.Missing) != 1 {
		t.Fatalf("after the founder: %+v", inst)
	}
	// The same key twice: duplicate_key, 409, one audit entry.
	before := o.audits(t)
	status, body := o.sign(t, o.founder, inst)
	if er := errorOf(t, body); status != http.StatusConflict || er.Reason != ReasonDuplicateKey {
		t.Fatalf("twice: %d %s", status, body)
	}
	if got := results(o.lastAudit(t, int(o.audits(t)-before))); got != "rejected:duplicate_key" {
		t.Errorf("audit %q", got)
	}
	// A statement over another operation's digest.
	other := o.mustRequest(t, protocol.OpBurnKey, map[string]string{"serial": "3000"}, "")
	status, body = o.postStatement(t, inst.ID, "signatures", o.statement(t, o.sysadmin, other, false))
	if er := errorOf(t, body); status != http.StatusBadRequest || er.Reason != ReasonWrongOperation {
		t.Fatalf("another operation: %d %s", status, body)
	}
	twin := o.mustRequest(t, protocol.OpAddAdmin, params, "")
	status, body = o.postStatement(t, inst.ID, "signatures", o.statement(t, o.sysadmin, twin, false))
	if er := errorOf(t, body); status != http.StatusBadRequest || er.Reason != ReasonWrongDigest {
		t.Fatalf("another digest: %d %s", status, body)
	}
	inst = o.mustSign(t, o.sysadmin, inst)
	if inst.State != "applied" {
		t.Fatalf("after founder and sysadmin: %+v", inst)
	}
	e, err := o.st.RosterEntry(context.Background(), 4000)
	if err != nil || e.Role != RoleFounder {
		t.Fatalf("roster entry %+v %v", e, err)
	}
	// The newcomer signs from now on.
	o.addDevice(t, "d-new")
	if inst := o.mustSign(t, newcomer, o.mustRequest(t, protocol.OpRemoteLock, map[string]string{"device_id": "d-new"}, "")); inst.State != "applied" {
		t.Errorf("the new admin's lock: %s", inst.State)
	}
}

func TestOperationWindowExpires(t *testing.T) {
	o := newOpsEnv(t)
	params, _ := o.addAdminParams(t, 4000, RoleSysadmin)
	inst := o.mustSign(t, o.founder, o.mustRequest(t, protocol.OpAddAdmin, params, ""))
	o.clock.Add(5*time.Minute + time.Second)
	status, body := o.sign(t, o.sysadmin, inst)
	if er := errorOf(t, body); status != http.StatusConflict || er.Reason != ReasonWindowExpired {
		t.Fatalf("late: %d %s", status, body)
	}
	if got := o.get(t, inst.ID); got.State != "expired" || got.Reason != ReasonWindowExpired {
		t.Errorf("state %s %s, want expired", got.State, got.Reason)
	}
}

func TestOperationSignatureRejects(t *testing.T) {
	o := newOpsEnv(t)
	o.addDevice(t, "d-1")
	inst := o.mustRequest(t, protocol.OpRemoteLock, map[string]string{"device_id": "d-1"}, "")
	_, foreignPKI, _ := openCA(t, "globex")
	fk := newKey(t)
	foreigner := admin{serial: 7000, key: fk, cert: issueAdmin(t, foreignPKI, fk, "Eve", RoleFounder, "globex", time.Now().Add(-time.Hour), time.Now().Add(time.Hour))}
	burned := o.longAdmin(t, 8000, RoleFounder)
	if err := o.st.BurnKey(context.Background(), 8000, time.Now()); err != nil {
		t.Fatal(err)
	}
	unknown := admin{serial: 8100, key: newKey(t)}
	unknown.cert = issueAdmin(t, o.pki, unknown.key, "Nobody", RoleFounder, tenant, time.Now().Add(-time.Hour), time.Now().Add(time.Hour))
	for _, tc := range []struct {
		name      string
		id, what  string
		statement func() string
		status    int
		reason    string
	}{
		{"malformed", inst.ID, "signatures", func() string { return "x.y.z" }, 400, protocol.ReasonMalformed},
		{"foreign chain", inst.ID, "signatures", func() string { return o.statement(t, foreigner, inst, false) }, 403, protocol.ReasonChain},
		{"burned key", inst.ID, "signatures", func() string { return o.statement(t, burned, inst, false) }, 403, ReasonKeyBurned},
		{"unknown key", inst.ID, "signatures", func() string { return o.statement(t, unknown, inst, false) }, 403, ReasonUnknownKey},
		{"cancel of a non-cancellable", inst.ID, "cancellations", func() string { return o.statement(t, o.sysadmin, inst, true) }, 409, ReasonNotCancellable},
		{"approval to cancellations", inst.ID, "cancellations", func() string { return o.statement(t, o.sysadmin, inst, false) }, 400, ReasonWrongOperation},
		{"operator where none is needed", inst.ID, "signatures", func() string { return o.statement(t, o.operator, inst, false) }, 0, ""},
		{"unknown operation id", "AAAAAAAAAAAAAAAAAAAAAA", "signatures", func() string { return o.statement(t, o.sysadmin, inst, false) }, 404, ReasonOperationNotFound},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := o.audits(t)
			status, body := o.postStatement(t, tc.id, tc.what, tc.statement())
			if tc.status == 0 {
				if status != http.StatusOK {
					t.Fatalf("%d %s", status, body)
				}
				return
			}
			if er := errorOf(t, body); status != tc.status || er.Reason != tc.reason {
				t.Fatalf("%d %s, want %d %s", status, body, tc.status, tc.reason)
			}
			if got := o.audits(t) - before; got != 1 {
				t.Errorf("%d audit entries, want 1", got)
			}
		})
	}
	if got := o.get(t, inst.ID); got.State != "pending" {
		t.Errorf("after rejections: %s", got.State)
	}
}

func TestOperationBurnKeyVoidsPendingApproval(t *testing.T) {
	o := newOpsEnv(t)
	params, _ := o.addAdminParams(t, 4000, RoleSysadmin)
	pending := o.mustSign(t, o.founder, o.mustRequest(t, protocol.OpAddAdmin, params, ""))
	if len(pending.Signatures) != 1 || !pending.Signatures[0].Counted {
		t.Fatalf("founder's signature %+v", pending.Signatures)
	}
	// burn_key of the only founder key is never refused for a lock-out.
	burn := o.mustRequest(t, protocol.OpBurnKey, map[string]string{"serial": "2000"}, "")
	if !strings.Contains(burn.Description, "YubiKey 2000 (admin-2000, founder)") {
		t.Errorf("description %q", burn.Description)
	}
	burn = o.mustSign(t, o.sysadmin, burn)
	if burn.State != "applied" || len(burn.Lockouts) == 0 {
		t.Fatalf("burn: %+v", burn)
	}
	got := o.get(t, pending.ID)
	if got.State != "pending" || got.Signatures[0].Counted || got.Signatures[0].Reason != ReasonKeyBurned {
		t.Fatalf("after the burn: %s %+v", got.State, got.Signatures)
	}
	// The sysadmin alone cannot complete it.
	if inst := o.mustSign(t, o.sysadmin, got); inst.State != "pending" {
		t.Errorf("sysadmin alone: %s", inst.State)
	}
}

func TestOperationRemoveAdmin(t *testing.T) {
	o := newOpsEnv(t)
	o.longAdmin(t, 2001, RoleFounder)
	inst := o.mustRequest(t, protocol.OpRemoveAdmin, map[string]string{"serial": "3000"}, "")
	o.mustSign(t, o.founder, inst)
	if inst = o.mustSign(t, o.sysadmin, inst); inst.State != "applied" {
		t.Fatalf("remove: %+v", inst)
	}
	e, _ := o.st.RosterEntry(context.Background(), 3000)
	if !e.Burned {
		t.Error("removed key still signs")
	}
}

func TestOperationPolicyChange(t *testing.T) {
	o := newOpsEnv(t)
	p := policy.Default(tenant)
	lock := p.Operations["remote_lock"]
	lock.Role = RoleFounder
	p.Operations["remote_lock"] = lock
	doc := mustMarshal(t, p)
	inst := o.mustRequest(t, protocol.OpPolicyChange, map[string]string{"document_sha256": protocol.DocumentSHA256(doc)}, doc)
	o.mustSign(t, o.sysadmin, inst)
	if inst = o.mustSign(t, o.founder, inst); inst.State != "applied" {
		t.Fatalf("policy change: %+v", inst)
	}
	o.addDevice(t, "d-1")
	lockOp := o.mustRequest(t, protocol.OpRemoteLock, map[string]string{"device_id": "d-1"}, "")
	if got := strings.Join(lockOp.RequiredRoles, ","); got != RoleFounder {
		t.Errorf("remote_lock under the new policy needs %s, want founder", got)
	}
	// The stored policy survives a restart.
	stored, err := StoredPolicy(context.Background(), o.st, tenant, policy.Default(tenant))
	if err != nil || stored.Operations["remote_lock"].Role != RoleFounder {
		t.Errorf("stored policy %v %v", stored, err)
	}
}

// TestPolicyChangeReachesEnrollment: an applied policy_change that raises
// enroll_device to founder governs the next challenge and enrollment at
// once, without a restart of the API.
func TestPolicyChangeReachesEnrollment(t *testing.T) {
	o := newOpsEnv(t)
	if c := o.begin(t); strings.Join(c.challenge.RequiredRoles, ",") != RoleSysadmin {
		t.Fatalf("default policy: enroll_device needs %v", c.challenge.RequiredRoles)
	}
	p := policy.Default(tenant)
	enroll := p.Operations[protocol.OpEnrollDevice]
	enroll.Role = RoleFounder
	p.Operations[protocol.OpEnrollDevice] = enroll
	doc := mustMarshal(t, p)
	inst := o.mustRequest(t, protocol.OpPolicyChange, map[string]string{"document_sha256": protocol.DocumentSHA256(doc)}, doc)
	o.mustSign(t, o.sysadmin, inst)
	if inst = o.mustSign(t, o.founder, inst); inst.State != "applied" {
		t.Fatalf("policy change: %+v", inst)
	}
	c := o.begin(t)
	if got := strings.Join(c.challenge.RequiredRoles, ","); got != RoleFounder {
		t.Errorf("challenge after the policy change asks for %s, want founder", got)
	}
	status, resp := o.post(t, "/v1/enrollments", ctJSON, c.body(t))
	var er protocol.ErrorResponse
	_ = json.Unmarshal(resp, &er)
	if status != http.StatusForbidden || er.Reason != ReasonRoleInsufficient {
		t.Fatalf("sysadmin enrollment after the change: %d %s, want 403 %s", status, resp, ReasonRoleInsufficient)
	}
}

func TestOperationDelays(t *testing.T) {
	o := newOpsEnv(t)
	day := 24 * time.Hour
	// change_jurisdiction: staged for 7 days, operator co-sign, applied.
	cj := o.mustRequest(t, protocol.OpChangeJurisdiction, map[string]string{"jurisdiction": "ch"}, "")
	if !cj.OperatorCosign || !cj.Cancellable || cj.Delay != (7*day).String() {
		t.Fatalf("challenge %+v", cj)
	}
	o.mustSign(t, o.founder, cj)
	cj = o.mustSign(t, o.sysadmin, cj)
	if cj.State != "staged" || !cj.OperatorMissing {
		t.Fatalf("after two admins: %+v", cj)
	}
	o.clock.Add(day)
	if cj = o.mustSign(t, o.operator, cj); cj.State != "staged" || cj.OperatorMissing || cj.Reason != "delay_running" {
		t.Fatalf("after the operator: %+v", cj)
	}
	o.clock.Add(6*day - time.Minute)
	if got := o.get(t, cj.ID); got.State != "staged" {
		t.Fatalf("before the end of the delay: %s", got.State)
	}
	o.clock.Add(time.Minute)
	before := o.audits(t)
	if got := o.get(t, cj.ID); got.State != "applied" {
		t.Fatalf("after 7 days: %s %s", got.State, got.Reason)
	}
	if got := results(o.lastAudit(t, int(o.audits(t)-before))); got != "approved applied" {
		t.Errorf("audit %q", got)
	}

	// tenant_delete: cancelled during its delay by one sysadmin.
	td := o.mustRequest(t, protocol.OpTenantDelete, map[string]string{}, "")
	o.mustSign(t, o.founder, td)
	o.mustSign(t, o.sysadmin, td)
	o.clock.Add(3 * day)
	// An office manager cannot cancel.
	status, body := o.postStatement(t, td.ID, "cancellations", o.statement(t, o.office, td, true))
	if er := errorOf(t, body); status != http.StatusForbidden || er.Reason != ReasonRoleInsufficient {
		t.Fatalf("office-mgr cancel: %d %s", status, body)
	}
	status, body = o.postStatement(t, td.ID, "cancellations", o.statement(t, o.sysadmin, td, true))
	if status != http.StatusOK || decodeInstance(t, body).State != "cancelled" {
		t.Fatalf("cancel: %d %s", status, body)
	}
	o.clock.Add(14 * day)
	if got := o.get(t, td.ID); got.State != "cancelled" {
		t.Errorf("cancelled then %s", got.State)
	}

	// tenant_delete: applied by Tick after 14 days; a cancel after that is too late.
	td = o.mustRequest(t, protocol.OpTenantDelete, map[string]string{}, "")
	o.mustSign(t, o.founder, td)
	o.mustSign(t, o.sysadmin, td)
	o.mustSign(t, o.operator, td)
	o.clock.Add(14*day - time.Second)
	if err := o.h.Tick(context.Background(), o.clock.Now()); err != nil {
		t.Fatal(err)
	}
	if got := o.get(t, td.ID); got.State != "staged" {
		t.Fatalf("at 14 days less a second: %s", got.State)
	}
	o.clock.Add(time.Second)
	if err := o.h.Tick(context.Background(), o.clock.Now()); err != nil {
		t.Fatal(err)
	}
	op, _, err := o.st.Operation(context.Background(), td.ID)
	if err != nil || op.State != "applied" {
		t.Fatalf("after Tick at 14 days: %+v %v", op, err)
	}
	status, body = o.postStatement(t, td.ID, "cancellations", o.statement(t, o.sysadmin, td, true))
	if er := errorOf(t, body); status != http.StatusConflict || er.Reason != ReasonOperationClosed {
		t.Fatalf("cancel after applying: %d %s", status, body)
	}
}

func TestOperationConcurrentSignatures(t *testing.T) {
	o := newOpsEnv(t)
	for i := range 5 {
		params, _ := o.addAdminParams(t, uint32(4000+i), RoleOfficeMgr)
		inst := o.mustRequest(t, protocol.OpAddAdmin, params, "")
		stmts := []string{o.statement(t, o.founder, inst, false), o.statement(t, o.sysadmin, inst, false)}
		var wg sync.WaitGroup
		statuses := make([]int, 2)
		for j, s := range stmts {
			wg.Go(func() { statuses[j], _ = o.postStatement(t, inst.ID, "signatures", s) })
		}
		wg.Wait()
		if statuses[0] != 200 || statuses[1] != 200 {
			t.Fatalf("statuses %v", statuses)
		}
		es, err := o.st.AuditEntries(context.Background(), 0, 10000)
		if err != nil {
			t.Fatal(err)
		}
		applied := 0
		for _, e := range es {
			if e.Result == resultApplied && e.ParamsDigest == inst.Digest {
				applied++
			}
		}
		if got := o.get(t, inst.ID); got.State != "applied" || applied != 1 {
			t.Fatalf("state %s, %d applications", got.State, applied)
		}
	}
}

func TestOperationList(t *testing.T) {
	o := newOpsEnv(t)
	o.addDevice(t, "d-1")
	g := o.grant(t, protocol.OpReadStatus)
	a := o.mustRequest(t, protocol.OpRemoteLock, map[string]string{"device_id": "d-1"}, "")
	b := o.mustRequest(t, protocol.OpBurnKey, map[string]string{"serial": "3000"}, "")
	o.mustSign(t, o.sysadmin, b)
	for _, tc := range []struct {
		query string
		want  []string
	}{
		{"", []string{a.ID, b.ID, g.id}},
		{"?state=pending", []string{a.ID}},
		{"?state=applied,cancelled", []string{b.ID, g.id}},
	} {
		code, body := o.read(t, g, "/v1/operations"+tc.query, 0)
		var l protocol.OperationList
		if err := json.Unmarshal(body, &l); err != nil || code != http.StatusOK || l.Validate() != nil {
			t.Fatalf("%d %s %v", code, body, err)
		}
		var ids []string
		for _, op := range l.Operations {
			ids = append(ids, op.ID)
		}
		if len(ids) != len(tc.want) {
			t.Errorf("%s: %v, want %v", tc.query, ids, tc.want)
		}
	}
	if code, _ := o.read(t, g, "/v1/operations?state=bogus", 0); code != http.StatusBadRequest {
		t.Errorf("bogus state: %d", code)
	}
}

func TestAuditEndpoint(t *testing.T) {
	o := newOpsEnv(t)
	o.addDevice(t, "d-1")
	o.mustSign(t, o.sysadmin, o.mustRequest(t, protocol.OpRemoteLock, map[string]string{"device_id": "d-1"}, ""))
	g := o.grant(t, protocol.OpReadAudit)
	seq, hash := int64(0), protocol.AuditGenesisHash
	for {
		code, body := o.read(t, g, fmt.Sprintf("/v1/audit?after=%d", seq), 0)
		var page protocol.AuditPage
		if err := json.Unmarshal(body, &page); err != nil || code != http.StatusOK {
			t.Fatalf("%d %s %v", code, body, err)
		}
		var err error
		if seq, hash, err = protocol.VerifyAuditChain(seq, hash, page.Entries); err != nil {
			t.Fatal(err)
		}
		if !page.More {
			break
		}
	}
	head, err := o.st.VerifyAudit(context.Background())
	if err != nil || head.Seq != seq || head.Hash != hash {
		t.Errorf("client head %d %s, store %+v %v", seq, hash, head, err)
	}
	if code, _ := o.read(t, g, "/v1/audit?after=-1", 0); code != http.StatusBadRequest {
		t.Errorf("after=-1: %d", code)
	}
}

// TestOpenAPIOperationsResponses checks the operations routes' real
// responses against docs/openapi.yaml, as TestOpenAPIResponses does for
// the others.
func TestOpenAPIOperationsResponses(t *testing.T) {
	doc := loadOpenAPI(t)
	ops := doc.operations()
	o := newOpsEnv(t)
	o.addDevice(t, "d-1")
	auditGrant, statusGrant := o.grant(t, protocol.OpReadAudit), o.grant(t, protocol.OpReadStatus)
	reqBody := func(op string, p map[string]string) []byte {
		b, _ := json.Marshal(protocol.OperationRequest{Operation: op, Tenant: tenant, Params: p})
		return b
	}
	inst := o.mustRequest(t, protocol.OpRemoteLock, map[string]string{"device_id": "d-1"}, "")
	cj := o.mustRequest(t, protocol.OpChangeJurisdiction, map[string]string{"jurisdiction": "ch"}, "")
	sigBody := func(s string) []byte {
		b, _ := json.Marshal(protocol.SignatureRequest{Statement: s})
		return b
	}
	for _, tc := range []struct {
		name, method, path, route string
		body                      []byte
		status                    int
	}{
		{"request", "POST", "/v1/operations", "", reqBody(protocol.OpBurnKey, map[string]string{"serial": "3000"}), 201},
		{"request unknown", "POST", "/v1/operations", "", reqBody("nope", map[string]string{}), 400},
		{"request lockout", "POST", "/v1/operations", "", reqBody(protocol.OpRemoveAdmin, map[string]string{"serial": "2000"}), 409},
		{"request unknown device", "POST", "/v1/operations", "", reqBody(protocol.OpRemoteWipe, map[string]string{"device_id": "x"}), 404},
		{"list", "GET", "/v1/operations?state=pending", "/v1/operations", nil, 200},
		{"list bad state", "GET", "/v1/operations?state=x", "/v1/operations", nil, 400},
		{"get unknown", "GET", "/v1/operations/nope", "/v1/operations/{id}", nil, 404},
		{"cancel", "POST", "/v1/operations/" + cj.ID + "/cancellations", "/v1/operations/{id}/cancellations", sigBody(o.statement(t, o.sysadmin, cj, true)), 200},
		{"cancel malformed", "POST", "/v1/operations/" + cj.ID + "/cancellations", "/v1/operations/{id}/cancellations", sigBody(""), 400},
		{"sign role", "POST", "/v1/operations/" + inst.ID + "/signatures", "/v1/operations/{id}/signatures", sigBody(o.statement(t, o.office, inst, false)), 403},
		{"sign", "POST", "/v1/operations/" + inst.ID + "/signatures", "/v1/operations/{id}/signatures", sigBody(o.statement(t, o.sysadmin, inst, false)), 200},
		{"sign closed", "POST", "/v1/operations/" + inst.ID + "/signatures", "/v1/operations/{id}/signatures", sigBody(o.statement(t, o.founder, inst, false)), 409},
		{"get", "GET", "/v1/operations/" + inst.ID, "/v1/operations/{id}", nil, 200},
		{"audit", "GET", "/v1/audit?after=1", "/v1/audit", nil, 200},
		{"audit bad", "GET", "/v1/audit?after=x", "/v1/audit", nil, 400},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var status int
			var body []byte
			if tc.method == "POST" {
				status, body = o.post(t, tc.path, ctJSON, tc.body)
			} else {
				var g *readGrant
				switch tc.route {
				case "/v1/audit":
					g = auditGrant
				case "/v1/operations":
					g = statusGrant
				}
				status, body = o.read(t, g, tc.path, 0)
			}
			if status != tc.status {
				t.Fatalf("status %d, want %d: %s", status, tc.status, body)
			}
			route := tc.route
			if route == "" {
				route = tc.path
			}
			op := ops[tc.method+" "+route]
			if op == nil {
				t.Fatalf("%s %s is not documented", tc.method, route)
			}
			if status < 300 && tc.body != nil {
				schema := obj(obj(obj(doc.resolve(t, obj(op, "requestBody")), "content"), ctJSON), "schema")
				if errs := doc.validate(t, schema, decode(t, tc.body), "request"); len(errs) > 0 {
					t.Errorf("request: %v", errs)
				}
			}
			r := doc.resolve(t, obj(obj(op, "responses"), strconv.Itoa(status)))
			if r == nil {
				t.Fatalf("status %d is not documented for %s %s", status, tc.method, route)
			}
			if errs := doc.validate(t, obj(obj(obj(r, "content"), ctJSON), "schema"), decode(t, body), "response"); len(errs) > 0 {
				t.Errorf("response %s: %v", body, errs)
			}
		})
	}
}
