//go:build linux

package tunnel

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/kiwistack/endpoint/agent/claim"
	"github.com/kiwistack/endpoint/agent/enrollment"
	"github.com/kiwistack/endpoint/agent/status"
	"github.com/kiwistack/endpoint/enroll/adminjson"
	"github.com/kiwistack/endpoint/platform/localsock"
	"github.com/kiwistack/endpoint/platform/luks"
	"github.com/kiwistack/endpoint/platform/luks/lukstest"
	"github.com/kiwistack/endpoint/platform/paths"
	"github.com/kiwistack/endpoint/platform/wipe"
	"github.com/kiwistack/endpoint/server/auditlog"
	"github.com/kiwistack/endpoint/test/e2e"
	"github.com/kiwistack/endpoint/test/pcsctest"
)

// lostLaptop is seed D4 scenario 02's set-up: a tenant with a hub, a
// laptop claimed with an OEM token whose tunnel is up, and a sysadmin's
// virtual YubiKey provisioned for the tenant.
type lostLaptop struct {
	tn           *e2e.Tenant
	hubNS, lapNS string
	hubIf        string
	root         string
	rec          *enrollment.Record
	sysadmin     e2e.Admin
}

// newLostLaptop sets a lost laptop up; tag (three letters) names its
// namespaces and interfaces, prepare readies the sandbox root before the
// agent starts, and agentArgs are added to `kiwistack-agent run`.
func newLostLaptop(t *testing.T, tag string, prepare func(root string), agentArgs ...string) *lostLaptop {
	t.Helper()
	e2e.RequireNetns(t, what)
	pcsctest.Require(t)
	sk := pcsctest.Start(t, pcsctest.Options{Version: "5.7.1"})
	attCert, _ := pcsctest.AttestationRoot(t)
	attRoot := e2e.WriteAttestationRoot(t, attCert)

	pid := os.Getpid()
	l := &lostLaptop{hubNS: fmt.Sprintf("%shub-%d", tag, pid), lapNS: fmt.Sprintf("%slap-%d", tag, pid), hubIf: fmt.Sprintf("%sh%d", tag, pid)}
	lapIf := fmt.Sprintf("%sl%d", tag, pid)
	e2e.AddNetns(t, l.hubNS)
	e2e.AddNetns(t, l.lapNS)
	e2e.Veth(t, l.hubNS, fmt.Sprintf("%svh%d", tag, pid), hubUnderlay+"/24", l.lapNS, fmt.Sprintf("%svl%d", tag, pid), lapUnderlay+"/24")

	state := filepath.Join(t.TempDir(), "tenant")
	l.tn = startDev(t, l.hubNS, state, "--tenant", e2e.TenantName,
		"--listen", hubUnderlay+":0", "--hub-listen", fmt.Sprintf("%s:%d", hubUnderlay, hubPort), "--hub-interface", l.hubIf,
		"--hub-prefix", hubPrefix, "--hub-resync", "2s", "--attestation-root", attRoot)

	serial := fmt.Sprintf("KS-%s-%d", strings.ToUpper(tag), pid)
	l.root = sandbox(t, serial)
	if l.root == "/" || l.root == "" {
		t.Fatalf("sandbox root %q: refusing to act on this machine", l.root)
	}
	prepare(l.root)
	layout := paths.Under(l.root)
	if err := os.MkdirAll(filepath.Dir(claim.BootstrapPath(layout)), 0o755); err != nil {
		t.Fatal(err)
	}
	e2e.Command(t, "ip", "netns", "exec", l.hubNS, e2e.Bin("kiwistack-api"), "bootstrap", "create", "--state", state,
		"--serial", serial, "--api", l.tn.APIURL, "--expires", "1h", "--out", claim.BootstrapPath(layout))
	start(t, l.lapNS, "kiwistack-agent", "kiwistack-agent", nil, append([]string{"run", "--root", l.root, "--tunnel-interface", lapIf}, agentArgs...)...)
	waitStatus(t, l.root, "tunnel up", 30*time.Second, func(s *status.Status) bool { return s.Tunnel.State == "up" })
	rec, err := enrollment.Read(layout)
	if err != nil {
		t.Fatal(err)
	}
	l.rec = rec
	pingUntil(t, l.lapNS, 20*time.Second, "after the claim")
	if n := len(hubPeers(t, l.hubIf)); n != 1 {
		t.Fatalf("hub has %d peers, want the laptop", n)
	}
	l.sysadmin = e2e.Provision(t, l.tn, sk, attRoot, "Sam Sysadmin", "sysadmin")
	return l
}

// admin runs `kiwistack-enroll admin VERB … --json` against the tenant.
func (l *lostLaptop) admin(t *testing.T, stdin, verb string, extra ...string) adminjson.Operation {
	t.Helper()
	args := append([]string{"admin", verb, "--api", l.tn.APIURL, "--tenant", e2e.TenantName,
		"--root-fingerprint", l.tn.Fingerprint, "--json"}, extra...)
	out := e2e.MustRunIn(t, l.hubNS, stdin, "kiwistack-enroll", args...)
	var op adminjson.Operation
	if err := json.Unmarshal([]byte(out), &op); err != nil {
		t.Fatalf("admin %s: %v: %s", verb, err, out)
	}
	return op
}

// carryOut has the sysadmin request and sign op (remote_lock or
// remote_wipe) for the laptop, triggers the agent and waits until it
// reports state and the acknowledgement; it returns the operation id and
// the agent's status.
func (l *lostLaptop) carryOut(t *testing.T, op, state, kind string) (string, *status.Status) {
	t.Helper()
	req := l.admin(t, "", "request", op, "--param", "device_id="+l.rec.DeviceID, "--param", "reason=lost laptop")
	signed := l.admin(t, l.sysadmin.PIN+"\n", "sign", "--pin-stdin", "--reader", l.sysadmin.Key.Reader, req.Operation.ID)
	if signed.Operation.State != "applied" {
		t.Fatalf("%s: %+v", op, signed.Operation)
	}
	t0 := time.Now()
	// The agent fetches at once on a local trigger.
	c := status.NewClient(func(ctx context.Context) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, "unix", localsock.DefaultPath(l.root))
	})
	if err := c.Reconcile(context.Background()); err != nil {
		t.Fatalf("POST %s: %v", status.PathReconcile, err)
	}
	// The command controller acknowledges, then the tunnel controller
	// follows (the daemon triggers it): wait for both.
	s := waitStatus(t, l.root, state+", acknowledged and the tunnel down", 20*time.Second, func(s *status.Status) bool {
		return s.Commands != nil && s.Commands.State == state && s.Commands.Last != nil && s.Commands.Last.Acknowledged &&
			s.Tunnel.State != "up"
	})
	t.Logf("%s carried out %s after the signature: %+v; tunnel %s (%s)", kind, time.Since(t0).Round(time.Millisecond),
		*s.Commands.Last, s.Tunnel.State, s.Tunnel.Message)
	if last := s.Commands.Last; last.Result != "done" || last.Kind != kind || last.OperationID != req.Operation.ID {
		t.Errorf("last command %+v, want a done %s for operation %s", last, kind, req.Operation.ID)
	}
	return req.Operation.ID, s
}

// offTheTunnel checks that the hub dropped the laptop and the API's audit
// log has the acknowledgement.
func (l *lostLaptop) offTheTunnel(t *testing.T) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); len(hubPeers(t, l.hubIf)) != 0; time.Sleep(50 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("hub still has peers %v 10 s after the command", hubPeers(t, l.hubIf))
		}
	}
	if err := e2e.Ping(l.lapNS, hubTunnel, time.Second); err == nil {
		t.Error("ping through the tunnel still works")
	}
	out := e2e.Command(t, e2e.Bin("kiwistack-api"), "audit", "list", "--state", l.tn.State, "--json")
	var entries []auditlog.Entry
	if err := json.Unmarshal([]byte(out), &entries); err != nil {
		t.Fatalf("audit list: %v: %s", err, out)
	}
	for _, e := range entries {
		if e.Operation == "device_command" && e.Result == "command_acknowledged" && e.Reason == "done" {
			return
		}
	}
	t.Errorf("no acknowledged device_command in the audit log:\n%s", out)
}

// TestRemoteLockLostLaptop is seed D4 scenario 02 with remote_lock: on a
// local reconcile trigger the agent fetches, verifies and carries out the
// lock in its sandbox root (/etc/nologin, usermod --root SANDBOX on the
// sandbox's own accounts, never this machine's), the tunnel goes down, the
// hub drops the peer and the API records the acknowledgement.
func TestRemoteLockLostLaptop(t *testing.T) {
	hostShadow, _ := os.ReadFile("/etc/shadow")
	hostNologin := fileExists("/etc/nologin")
	l := newLostLaptop(t, "ksl", func(root string) { sandboxAccounts(t, root) })
	l.carryOut(t, "remote_lock", "locked", "lock")
	if !fileExists(filepath.Join(l.root, "etc", "nologin")) {
		t.Error("no /etc/nologin under the sandbox root")
	}
	if b, err := os.ReadFile(filepath.Join(l.root, "etc", "shadow")); err != nil || !strings.Contains(string(b), "alice:!") {
		t.Errorf("sandbox shadow after the lock (want alice locked): %s %v", b, err)
	}
	if b, _ := os.ReadFile("/etc/shadow"); !bytes.Equal(b, hostShadow) {
		t.Error("this machine's /etc/shadow changed during the test")
	}
	if fileExists("/etc/nologin") != hostNologin {
		t.Error("this machine's /etc/nologin changed during the test")
	}
	l.offTheTunnel(t)
}

// TestRemoteWipeLostLaptop is seed D4 scenario 02 with remote_wipe: the
// laptop's disk is a real LUKS2 volume in a loop-device file, named to the
// agent with --luks-device (device-mapper, through which the agent finds
// the volume under / on a laptop, is not available in this sandbox); the
// agent fetches and verifies the command, erases the volume's key slots
// with cryptsetup luksErase, acknowledges, and the laptop is off the
// tunnel. Afterwards no key slot is left and the key that opened the
// volume no longer does.
func TestRemoteWipeLostLaptop(t *testing.T) {
	vol := lukstest.New(t, "luks2")
	ctx := context.Background()
	if dump, err := luks.Exec(ctx, []string{"cryptsetup", "luksDump", vol.Device}, nil); err != nil || wipe.KeySlots(dump) != 1 {
		t.Fatalf("the volume before the wipe has not one key slot: %v\n%s", err, dump)
	}
	l := newLostLaptop(t, "ksw", func(root string) { sandboxAccounts(t, root) }, "--luks-device", vol.Device)
	l.carryOut(t, "remote_wipe", "wiped", "wipe")
	dump, err := luks.Exec(ctx, []string{"cryptsetup", "luksDump", vol.Device}, nil)
	if err != nil {
		t.Fatalf("luksDump after the wipe: %v", err)
	}
	if n := wipe.KeySlots(dump); n != 0 {
		t.Errorf("%d key slots survived the wipe:\n%s", n, dump)
	}
	if b, err := os.ReadFile(filepath.Join(l.root, "etc", "shadow")); err != nil || !strings.Contains(string(b), "alice:!") {
		t.Errorf("sandbox shadow after the wipe (logins are locked too): %s %v", b, err)
	}
	if _, err := luks.Exec(ctx, []string{"cryptsetup", "open", "--test-passphrase", "--key-file", vol.KeyFile, vol.Device}, nil); err == nil {
		t.Error("the volume's key still opens it after the wipe")
	}
	l.offTheTunnel(t)
}

// sandboxAccounts gives the sandbox root accounts of its own: the lock's
// usermod runs with --root SANDBOX (platform/lock) and chroots there.
func sandboxAccounts(t *testing.T, root string) {
	t.Helper()
	for name, body := range map[string]string{
		"passwd": "root:x:0:0::/root:/bin/bash\nalice:x:1000:1000::/home/alice:/bin/bash\n",
		"shadow": "root:*:19000:0:99999:7:::\nalice:$6$salt$hash:19000:0:99999:7:::\n",
		"group":  "root:x:0:\nalice:x:1000:\n",
	} {
		if err := os.WriteFile(filepath.Join(root, "etc", name), []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
	}
}

func fileExists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}
