package api

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"database/sql"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/kiwistack/endpoint/agent/disk"
	"github.com/kiwistack/endpoint/agent/enrollment"
	"github.com/kiwistack/endpoint/enroll"
	"github.com/kiwistack/endpoint/enroll/adminjson"
	"github.com/kiwistack/endpoint/enroll/apiclient"
	"github.com/kiwistack/endpoint/enroll/protocol"
	"github.com/kiwistack/endpoint/internal/escrow"
	"github.com/kiwistack/endpoint/platform/luks"
	"github.com/kiwistack/endpoint/platform/luks/lukstest"
	"github.com/kiwistack/endpoint/server/store"
)

// escrowEnv is an operations env with an escrow key, one enrolled device
// and the device's agent files (certificate, key, root) for mutual TLS
// against a TLS listener of the same handler.
type escrowEnv struct {
	*opsEnv
	key    *escrow.PrivateKey
	er     protocol.EnrollResponse
	leaf   *x509.Certificate
	rec    *enrollment.Record
	tlsURL string
}

func newEscrowEnv(t *testing.T) *escrowEnv {
	t.Helper()
	k, err := LoadOrCreateEscrowKey(filepath.Join(t.TempDir(), "escrow.key"))
	if err != nil {
		t.Fatal(err)
	}
	x := &escrowEnv{key: k}
	x.opsEnv = newOpsEnv(t, func(c *Config) { c.EscrowKey = k })
	c := x.begin(t)
	x.er, x.leaf = x.enrolled(t, c)

	// A TLS listener with a server certificate from the tenant
	// intermediate, asking for the client certificate the handler checks.
	sk := newKey(t)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(7), Subject: pkix.Name{CommonName: "api.acme.test"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)},
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, x.pki.Intermediate, &sk.PublicKey, x.pki.IntermediateKey)
	if err != nil {
		t.Fatal(err)
	}
	// step-ca's GET /root/{fingerprint} beside the API, for apiclient.Dial.
	mux := http.NewServeMux()
	mux.Handle("/", x.h)
	mux.HandleFunc("GET /root/{fp}", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, map[string]string{"ca": string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: x.pki.Root.Raw}))})
	})
	srv := httptest.NewUnstartedServer(mux)
	srv.TLS = &tls.Config{ClientAuth: tls.RequestClientCert, Certificates: []tls.Certificate{{
		Certificate: [][]byte{der, x.pki.Intermediate.Raw}, PrivateKey: sk}}}
	srv.StartTLS()
	t.Cleanup(srv.Close)
	x.tlsURL = srv.URL

	dir := t.TempDir()
	x.rec = &enrollment.Record{Certificate: filepath.Join(dir, "device.crt"), Key: filepath.Join(dir, "device.key"),
		Root: filepath.Join(dir, "root.crt"), AgentConfig: x.er.Config}
	x.rec.APIURL = srv.URL
	chain := x.er.Certificate + strings.Join(x.er.Chain, "")
	kder, err := x509.MarshalPKCS8PrivateKey(c.deviceKey)
	if err != nil {
		t.Fatal(err)
	}
	for p, b := range map[string][]byte{x.rec.Certificate: []byte(chain), x.rec.Root: []byte(x.er.Root),
		x.rec.Key: pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kder})} {
		if err := os.WriteFile(p, b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return x
}

// checkIn is the device's GET /v1/device/config.
func (x *escrowEnv) checkIn(t *testing.T) *protocol.AgentConfig {
	t.Helper()
	status, body := x.deviceRequest(t, x.leaf, http.MethodGet, protocol.PathDeviceConfig, nil)
	if status != http.StatusOK {
		t.Fatalf("check-in: %d %s", status, body)
	}
	var c protocol.AgentConfig
	if err := json.Unmarshal(body, &c); err != nil {
		t.Fatal(err)
	}
	return &c
}

// readKey runs read_recovery_key for the device, signed by a, and opens
// the release with a fresh one-time key.
func (x *escrowEnv) readKey(t *testing.T, a admin) (escrow.RecoveryKey, protocol.RecoveryKeyRelease) {
	t.Helper()
	one, err := escrow.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	inst := x.mustRequest(t, protocol.OpReadRecoveryKey, map[string]string{protocol.ParamDeviceID: x.er.DeviceID,
		protocol.ParamRecipientKey: one.Public()}, "")
	if slices.Contains(inst.RequiredRoles, RoleOfficeMgr) || len(inst.RequiredRoles) != 1 {
		t.Errorf("required roles %v", inst.RequiredRoles)
	}
	// Not signed yet: nothing is released.
	if status, body := x.get2(t, "/v1/operations/"+inst.ID+"/recovery-key"); status != http.StatusConflict || errorOf(t, body).Reason != ReasonNotReleased {
		t.Fatalf("unsigned release: %d %s", status, body)
	}
	inst = x.mustSign(t, a, inst)
	if inst.State != "applied" || !strings.Contains(inst.Effect, "released to the requester") {
		t.Fatalf("read_recovery_key: %+v", inst)
	}
	status, body := x.get2(t, "/v1/operations/"+inst.ID+"/recovery-key")
	if status != http.StatusOK {
		t.Fatalf("release: %d %s", status, body)
	}
	var rel protocol.RecoveryKeyRelease
	if err := json.Unmarshal(body, &rel); err != nil {
		t.Fatal(err)
	}
	k, err := one.OpenRelease(rel.Sealed, escrow.Binding{Tenant: tenant, DeviceID: x.er.DeviceID, Volume: inst.ID})
	if err != nil {
		t.Fatal(err)
	}
	// Nobody else's key opens it.
	other, _ := escrow.GenerateKey()
	if _, err := other.OpenRelease(rel.Sealed, escrow.Binding{Tenant: tenant, DeviceID: x.er.DeviceID, Volume: inst.ID}); err == nil {
		t.Error("another one-time key opens the release")
	}
	return k, rel
}

func (x *escrowEnv) get2(t *testing.T, path string) (int, []byte) {
	t.Helper()
	return x.deviceRequest(t, nil, http.MethodGet, path, nil)
}

// TestDiskEscrowLUKS is the real test: on a LUKS2 volume in a
// loop-device file, the agent's disk controller adds a recovery key and
// escrows it over mutual TLS to the real API and store; a sysadmin reads
// it through the signed read_recovery_key (software-key certificates),
// the key opens the volume, the check-in asks for a rotation, the agent
// rotates, and the old key no longer opens the volume.
func TestDiskEscrowLUKS(t *testing.T) {
	ctx := context.Background()
	x := newEscrowEnv(t)
	v := lukstest.New(t, "luks2")
	dev := luks.Device{Path: v.Device, AuthKeyFile: v.KeyFile, PBKDF: lukstest.FastPBKDF}
	cfg := x.checkIn(t)
	if cfg.Disk == nil || cfg.Disk.EscrowKey != x.key.Public() || cfg.Disk.RotateEscrow != "" {
		t.Fatalf("check-in disk config %+v", cfg.Disk)
	}
	if x.er.Config.Disk == nil || x.er.Config.Disk.EscrowKey != x.key.Public() {
		t.Fatalf("enrollment config disk %+v", x.er.Config.Disk)
	}
	stateDir := t.TempDir()
	c := disk.New(disk.Options{StateDir: stateDir, Record: func() *enrollment.Record { return x.rec },
		Config: func() *protocol.AgentConfig { return cfg }, Volume: func() (disk.Volume, error) { return dev, nil }})
	if _, err := c.Reconcile(ctx); err != nil {
		t.Fatal(err)
	}
	st := c.Status()
	if es := x.lastAudit(t, 1); es[0].Operation != auditDiskEscrow || es[0].Result != resultEscrowed || es[0].Reason != st.EscrowID {
		t.Errorf("audit of the escrow: %+v", es[0])
	}
	if st.State != disk.StateEscrowed || st.Slot == nil || *st.Slot != 1 || !protocol.ValidEscrowID(st.EscrowID) {
		t.Fatalf("status %+v", st)
	}
	info, _ := dev.Inspect(ctx)
	if !slices.Equal(info.Slots, []int{0, 1}) || st.Volume != info.UUID {
		t.Fatalf("slots %v, volume %s", info.Slots, info.UUID)
	}
	// The state file holds the slot and the escrow id, nothing that opens
	// the volume.
	sf, err := os.ReadFile(filepath.Join(stateDir, disk.StateFile))
	if err != nil {
		t.Fatal(err)
	}
	if fi, _ := os.Stat(filepath.Join(stateDir, disk.StateFile)); fi.Mode().Perm() != 0o600 {
		t.Errorf("state file mode %v", fi.Mode())
	}
	if strings.Contains(string(sf), "kse1.") || !strings.Contains(string(sf), st.EscrowID) {
		t.Errorf("state file %s", sf)
	}
	// A second pass changes nothing.
	if _, err := c.Reconcile(ctx); err != nil || c.Status().EscrowID != st.EscrowID {
		t.Fatalf("second pass: %v %+v", err, c.Status())
	}

	// Wrong and missing signatures release nothing.
	one, _ := escrow.GenerateKey()
	inst := x.mustRequest(t, protocol.OpReadRecoveryKey, map[string]string{protocol.ParamDeviceID: x.er.DeviceID,
		protocol.ParamRecipientKey: one.Public()}, "")
	// A valid statement whose signature bytes were altered.
	compact := x.statement(t, x.sysadmin, inst, false)
	dot := strings.LastIndexByte(compact, '.')
	sig := []byte(compact[dot+1:])
	sig[5] ^= 'A' ^ 'B'
	if sig[5] == compact[dot+1+5] {
		sig[5] = 'C'
	}
	if status, body := x.postStatement(t, inst.ID, "signatures", compact[:dot+1]+string(sig)); status == http.StatusOK {
		t.Fatalf("forged signature accepted: %s", body)
	}
	if status, body := x.sign(t, x.office, inst); status == http.StatusOK || !strings.Contains(string(body), "role") {
		t.Fatalf("office-mgr signature: %d %s", status, body)
	}
	if e, _ := x.st.CurrentDiskEscrow(ctx, x.er.DeviceID); !e.ReadAt.IsZero() {
		t.Fatal("the escrow is marked read without a valid signature")
	}
	if status, _ := x.get2(t, "/v1/operations/"+inst.ID+"/recovery-key"); status != http.StatusConflict {
		t.Fatalf("release without a valid signature: %d", status)
	}
	if cfg := x.checkIn(t); cfg.Disk.RotateEscrow != "" {
		t.Fatal("rotation asked without a read")
	}

	// The signed read: the key opens the volume and is marked read.
	before := x.audits(t)
	key, rel := x.readKey(t, x.sysadmin)
	if rel.EscrowID != st.EscrowID || rel.KeySlot != 1 || rel.Volume != info.UUID {
		t.Errorf("release %+v", rel)
	}
	if got := results(x.lastAudit(t, int(x.audits(t)-before))); !strings.Contains(got, "applied") {
		t.Errorf("audit of the read: %q", got)
	}
	if err := dev.TestKey(ctx, 1, []byte(key.String())); err != nil {
		t.Fatalf("the released key does not open slot 1: %v", err)
	}
	typed := strings.ReplaceAll(key.String(), "-", " ")
	parsed, err := escrow.ParseRecoveryKey(typed)
	if err != nil || !parsed.Equal(key) {
		t.Fatalf("the key as typed: %v", err)
	}

	// The check-in asks for a rotation; the agent adds and escrows a new
	// key, then kills the old slot.
	cfg = x.checkIn(t)
	if cfg.Disk.RotateEscrow != st.EscrowID {
		t.Fatalf("rotate_escrow %q, want %s", cfg.Disk.RotateEscrow, st.EscrowID)
	}
	if _, err := c.Reconcile(ctx); err != nil {
		t.Fatal(err)
	}
	st2 := c.Status()
	if st2.EscrowID == st.EscrowID || st2.Slot == nil || *st2.Slot != 2 || st2.Rotations != 1 {
		t.Fatalf("after rotation %+v", st2)
	}
	if info, _ := dev.Inspect(ctx); !slices.Equal(info.Slots, []int{0, 2}) {
		t.Fatalf("slots after rotation %v", info.Slots)
	}
	if err := dev.TestKey(ctx, -1, []byte(key.String())); err == nil {
		t.Fatal("the old key still opens the volume")
	}
	if cfg := x.checkIn(t); cfg.Disk.RotateEscrow != "" {
		t.Errorf("rotation still asked: %q", cfg.Disk.RotateEscrow)
	}
	e, err := x.st.CurrentDiskEscrow(ctx, x.er.DeviceID)
	if err != nil || e.ID != st2.EscrowID || e.Replaces != st.EscrowID {
		t.Fatalf("current escrow %+v %v", e, err)
	}
	// The administrator's verb: kiwistack-enroll admin recovery-key DEVICE
	// (enroll.Admin with a software key instead of the YubiKey).
	var out strings.Builder
	keyDir := t.TempDir()
	a := enroll.Admin{
		Dial: func(ctx context.Context, apiURL, fp string) (enroll.AdminAPI, error) {
			return apiclient.Dial(ctx, apiURL, fp)
		},
		OpenSigner: func(context.Context, uint32) (enroll.StatementSigner, error) {
			return enroll.SoftwareSigner{Key: x.sysadmin.key, Cert: x.sysadmin.cert, SerialNo: x.sysadmin.serial}, nil
		},
		Out: &out, Now: x.clock.Now,
	}
	o := enroll.AdminOptions{APIURL: x.tlsURL, Tenant: tenant, RootFingerprint: x.pki.Fingerprint()}
	if err := a.RecoveryKey(ctx, o, enroll.RecoveryKeyOptions{DeviceID: x.er.DeviceID, KeyDir: keyDir, Reason: "lost laptop"}); err != nil {
		t.Fatalf("admin recovery-key: %v\n%s", err, out.String())
	}
	var shown string
	for line := range strings.Lines(out.String()) {
		if k, err := escrow.ParseRecoveryKey(strings.TrimSpace(line)); err == nil {
			shown = k.String()
		}
	}
	if shown == "" || !strings.Contains(out.String(), "key slot 2") {
		t.Fatalf("admin recovery-key showed no key:\n%s", out.String())
	}
	if err := dev.TestKey(ctx, 2, []byte(shown)); err != nil {
		t.Fatalf("the rotated key does not open slot 2: %v", err)
	}
	if left, _ := os.ReadDir(keyDir); len(left) != 0 {
		t.Errorf("one-time keys left behind: %v", left)
	}
	// The same read with --json: stdout holds only the versioned answer,
	// what is signed goes to stderr.
	var jsonOut, jsonErr strings.Builder
	a.Out, a.Err, o.JSON = &jsonOut, &jsonErr, true
	if err := a.RecoveryKey(ctx, o, enroll.RecoveryKeyOptions{DeviceID: x.er.DeviceID, KeyDir: keyDir}); err != nil {
		t.Fatalf("admin recovery-key --json: %v\n%s", err, jsonErr.String())
	}
	var rk adminjson.RecoveryKey
	if err := json.Unmarshal([]byte(jsonOut.String()), &rk); err != nil || rk.Schema != adminjson.Schema ||
		rk.Released == nil || rk.Released.RecoveryKey != shown || rk.Released.KeySlot != 2 || rk.Operation.State != "applied" {
		t.Errorf("admin recovery-key --json: %v\n%s", err, jsonOut.String())
	}
	if !strings.Contains(jsonErr.String(), "You are about to approve") {
		t.Errorf("--json did not show what is signed on stderr:\n%s", jsonErr.String())
	}
}

// TestDiskEscrowRefusals: a tampered escrow (posted or stored), a volume
// that is not LUKS2 and a full key-slot table each give a clear error and
// change nothing.
func TestDiskEscrowRefusals(t *testing.T) {
	ctx := context.Background()
	x := newEscrowEnv(t)
	cfg := x.checkIn(t)

	// A posted blob that does not open for this device: refused, nothing stored.
	k, _ := escrow.NewRecoveryKey(nil)
	vol := "14eeb99c-b569-49c3-9cdf-32ff71008d9d"
	foreign, _ := escrow.Seal(x.key.Public(), escrow.Binding{Tenant: tenant, DeviceID: "another-device", Volume: vol}, k)
	good, _ := escrow.Seal(x.key.Public(), escrow.Binding{Tenant: tenant, DeviceID: x.er.DeviceID, Volume: vol}, k)
	raw, _ := base64.RawURLEncoding.DecodeString(strings.TrimPrefix(good, escrow.SealedPrefix))
	raw[40] ^= 1
	tampered := escrow.SealedPrefix + base64.RawURLEncoding.EncodeToString(raw)
	before := x.audits(t)
	for name, sealed := range map[string]string{"foreign": foreign, "tampered": tampered} {
		b, _ := json.Marshal(protocol.DiskEscrowRequest{Volume: vol, KeySlot: 1, Sealed: sealed})
		status, body := x.deviceRequest(t, x.leaf, http.MethodPost, protocol.PathDeviceDiskEscrow, b)
		if status != http.StatusBadRequest || errorOf(t, body).Reason != ReasonEscrowUnreadable {
			t.Errorf("%s: %d %s", name, status, body)
		}
	}
	if _, err := x.st.CurrentDiskEscrow(ctx, x.er.DeviceID); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("a refused escrow was stored: %v", err)
	}
	if x.audits(t) != before {
		t.Errorf("a refused escrow wrote %d audit entries", x.audits(t)-before)
	}
	if status, body := x.deviceRequest(t, nil, http.MethodPost, protocol.PathDeviceDiskEscrow, []byte(`{}`)); status != http.StatusUnauthorized {
		t.Errorf("no certificate: %d %s", status, body)
	}
	// No escrow yet: read_recovery_key is refused before anyone signs.
	one, _ := escrow.GenerateKey()
	params := map[string]string{protocol.ParamDeviceID: x.er.DeviceID, protocol.ParamRecipientKey: one.Public()}
	if status, body := x.request(t, protocol.OpReadRecoveryKey, params, ""); status != http.StatusNotFound || errorOf(t, body).Reason != ReasonNoEscrow {
		t.Errorf("read without escrow: %d %s", status, body)
	}
	if status, body := x.request(t, protocol.OpReadRecoveryKey, map[string]string{protocol.ParamDeviceID: x.er.DeviceID,
		protocol.ParamRecipientKey: "x25519:nope"}, ""); status != http.StatusBadRequest {
		t.Errorf("bad recipient key: %d %s", status, body)
	}

	// A stored blob tampered with in the database: the request is refused
	// (escrow_unreadable), and an operation requested before the tampering
	// cannot be applied; nothing is marked read or released.
	b, _ := json.Marshal(protocol.DiskEscrowRequest{Volume: vol, KeySlot: 1, Sealed: good})
	if status, body := x.deviceRequest(t, x.leaf, http.MethodPost, protocol.PathDeviceDiskEscrow, b); status != http.StatusOK {
		t.Fatalf("escrow: %d %s", status, body)
	}
	inst := x.mustRequest(t, protocol.OpReadRecoveryKey, params, "")
	var dbPath string
	if err := x.db.QueryRow(`SELECT file FROM pragma_database_list WHERE name = 'main'`).Scan(&dbPath); err != nil {
		t.Fatal(err)
	}
	rw, err := sql.Open("sqlite", dbPath)
	if err != nil {
		t.Fatal(err)
	}
	defer rw.Close()
	if _, err := rw.Exec(`UPDATE disk_escrows SET sealed = ? WHERE device_id = ?`, tampered, x.er.DeviceID); err != nil {
		t.Fatal(err)
	}
	if status, body := x.request(t, protocol.OpReadRecoveryKey, params, ""); status != http.StatusConflict || errorOf(t, body).Reason != ReasonEscrowUnreadable {
		t.Errorf("read of a tampered escrow: %d %s", status, body)
	}
	if status, body := x.sign(t, x.sysadmin, inst); status != http.StatusConflict || errorOf(t, body).Reason != ReasonEscrowUnreadable {
		t.Errorf("approving a read of a tampered escrow: %d %s", status, body)
	}
	if e, _ := x.st.CurrentDiskEscrow(ctx, x.er.DeviceID); !e.ReadAt.IsZero() {
		t.Error("a tampered escrow was marked read")
	}
	if got := x.get(t, inst.ID); got.State == "applied" {
		t.Errorf("operation %s applied", got.State)
	}

	// Not LUKS2, and a full key-slot table: an error that says so, no slot
	// added, nothing escrowed, the state file unwritten.
	for _, tc := range []struct {
		name, format string
		fill         bool
		want         error
	}{
		{"luks1", "luks1", false, luks.ErrNotLUKS2},
		{"plain", "", false, luks.ErrNotLUKS2},
		{"full", "luks2", true, luks.ErrSlotsFull},
	} {
		t.Run(tc.name, func(t *testing.T) {
			v := lukstest.New(t, tc.format)
			dev := luks.Device{Path: v.Device, AuthKeyFile: v.KeyFile, PBKDF: lukstest.FastPBKDF}
			if tc.fill {
				for n := 1; n < luks.MaxSlots; n++ {
					if err := dev.AddKey(ctx, n, []byte{'k', byte('a' + n)}); err != nil {
						t.Fatal(err)
					}
				}
			}
			before, _ := dev.Inspect(ctx)
			latest, _ := x.st.CurrentDiskEscrow(ctx, x.er.DeviceID)
			stateDir := t.TempDir()
			c := disk.New(disk.Options{StateDir: stateDir, Record: func() *enrollment.Record { return x.rec },
				Config: func() *protocol.AgentConfig { return cfg }, Volume: func() (disk.Volume, error) { return dev, nil }})
			_, err := c.Reconcile(ctx)
			if !errors.Is(err, tc.want) {
				t.Fatalf("Reconcile = %v, want %v", err, tc.want)
			}
			if st := c.Status(); st.State != disk.StateError || st.Message == "" {
				t.Errorf("status %+v", st)
			}
			after, _ := dev.Inspect(ctx)
			if !slices.Equal(before.Slots, after.Slots) {
				t.Errorf("slots %v became %v", before.Slots, after.Slots)
			}
			if e, _ := x.st.CurrentDiskEscrow(ctx, x.er.DeviceID); e.ID != latest.ID {
				t.Error("something was escrowed")
			}
			if _, err := os.Stat(filepath.Join(stateDir, disk.StateFile)); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("state file written: %v", err)
			}
		})
	}
}

func TestLoadOrCreateEscrowKey(t *testing.T) {
	path := filepath.Join(t.TempDir(), "escrow.key")
	k1, err := LoadOrCreateEscrowKey(path)
	if err != nil {
		t.Fatal(err)
	}
	if st, err := os.Stat(path); err != nil || st.Mode().Perm() != 0o600 {
		t.Errorf("key file %v %v, want mode 0600", st, err)
	}
	k2, err := LoadOrCreateEscrowKey(path)
	if err != nil || k1.Public() != k2.Public() {
		t.Errorf("second load: %v", err)
	}
	if err := os.WriteFile(path, []byte("junk"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadOrCreateEscrowKey(path); err == nil {
		t.Error("a damaged key file was accepted")
	}
}
