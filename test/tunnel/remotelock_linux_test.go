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
	"github.com/kiwistack/endpoint/platform/paths"
	"github.com/kiwistack/endpoint/server/auditlog"
	"github.com/kiwistack/endpoint/test/e2e"
	"github.com/kiwistack/endpoint/test/pcsctest"
)

// TestRemoteLockLostLaptop is seed D4 scenario 02 (lost laptop): a laptop
// claimed with an OEM token has its tunnel up; a sysadmin's virtual
// YubiKey requests and signs remote_lock for it; on a local reconcile
// trigger the agent fetches, verifies and carries out the lock in its
// sandbox root (/etc/nologin, usermod --root SANDBOX on the sandbox's own
// accounts, never this machine's), the tunnel goes down, the hub drops the
// peer and the API records the acknowledgement in the audit log.
func TestRemoteLockLostLaptop(t *testing.T) {
	e2e.RequireNetns(t, what)
	pcsctest.Require(t)
	sk := pcsctest.Start(t, pcsctest.Options{Version: "5.7.1"})
	attCert, _ := pcsctest.AttestationRoot(t)
	attRoot := e2e.WriteAttestationRoot(t, attCert)

	pid := os.Getpid()
	hubNS, lapNS := fmt.Sprintf("kslhub-%d", pid), fmt.Sprintf("ksllap-%d", pid)
	hubIf, lapIf := fmt.Sprintf("kslh%d", pid), fmt.Sprintf("ksll%d", pid)
	hubVeth, lapVeth := fmt.Sprintf("kslvh%d", pid), fmt.Sprintf("kslvl%d", pid)
	e2e.AddNetns(t, hubNS)
	e2e.AddNetns(t, lapNS)
	e2e.Veth(t, hubNS, hubVeth, hubUnderlay+"/24", lapNS, lapVeth, lapUnderlay+"/24")

	state := filepath.Join(t.TempDir(), "tenant")
	lines := make(chan string, 100)
	start(t, hubNS, "kiwistack-api dev", "kiwistack-api", lines, "dev", "--state", state, "--tenant", e2e.TenantName,
		"--listen", hubUnderlay+":0", "--hub-listen", fmt.Sprintf("%s:%d", hubUnderlay, hubPort), "--hub-interface", hubIf,
		"--hub-prefix", hubPrefix, "--hub-resync", "2s", "--attestation-root", attRoot)
	tn := &e2e.Tenant{State: state, Netns: hubNS}
	for deadline := time.After(60 * time.Second); tn.APIURL == "" || tn.Fingerprint == ""; {
		select {
		case line := <-lines:
			line = strings.TrimSpace(line)
			if v, ok := strings.CutPrefix(line, "API URL:"); ok {
				tn.APIURL = strings.TrimSpace(v)
			}
			if v, ok := strings.CutPrefix(line, "Root fingerprint:"); ok {
				tn.Fingerprint = strings.TrimSpace(v)
			}
		case <-deadline:
			t.Fatal("kiwistack-api dev did not print its API URL and root fingerprint within 60 s")
		}
	}

	// The sandbox has its own accounts: the lock's usermod runs with
	// --root SANDBOX (platform/lock) and chroots there.
	serial := fmt.Sprintf("KS-LOCK-%d", pid)
	root := sandbox(t, serial)
	if root == "/" || root == "" {
		t.Fatalf("sandbox root %q: refusing to lock this machine's accounts", root)
	}
	for name, body := range map[string]string{
		"passwd": "root:x:0:0::/root:/bin/bash\nalice:x:1000:1000::/home/alice:/bin/bash\n",
		"shadow": "root:*:19000:0:99999:7:::\nalice:$6$salt$hash:19000:0:99999:7:::\n",
		"group":  "root:x:0:\nalice:x:1000:\n",
	} {
		if err := os.WriteFile(filepath.Join(root, "etc", name), []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	hostShadow, _ := os.ReadFile("/etc/shadow")
	hostNologin := fileExists("/etc/nologin")

	layout := paths.Under(root)
	if err := os.MkdirAll(filepath.Dir(claim.BootstrapPath(layout)), 0o755); err != nil {
		t.Fatal(err)
	}
	e2e.Command(t, "ip", "netns", "exec", hubNS, e2e.Bin("kiwistack-api"), "bootstrap", "create", "--state", state,
		"--serial", serial, "--api", tn.APIURL, "--expires", "1h", "--out", claim.BootstrapPath(layout))
	start(t, lapNS, "kiwistack-agent", "kiwistack-agent", nil, "run", "--root", root, "--tunnel-interface", lapIf)
	waitStatus(t, root, "tunnel up", 30*time.Second, func(s *status.Status) bool { return s.Tunnel.State == "up" })
	rec, err := enrollment.Read(layout)
	if err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(20 * time.Second); ; {
		if err := e2e.Ping(lapNS, hubTunnel, time.Second); err == nil {
			break
		} else if time.Now().After(deadline) {
			t.Fatalf("ping %s through the tunnel: %v", hubTunnel, err)
		}
	}
	if n := len(hubPeers(t, hubIf)); n != 1 {
		t.Fatalf("hub has %d peers, want the laptop", n)
	}

	// The sysadmin requests and signs remote_lock alone (policy: sysadmin).
	sysadmin := e2e.Provision(t, tn, sk, attRoot, "Sam Sysadmin", "sysadmin")
	admin := func(stdin, verb string, extra ...string) adminjson.Operation {
		t.Helper()
		args := append([]string{"admin", verb, "--api", tn.APIURL, "--tenant", e2e.TenantName,
			"--root-fingerprint", tn.Fingerprint, "--json"}, extra...)
		out := e2e.MustRunIn(t, hubNS, stdin, "kiwistack-enroll", args...)
		var op adminjson.Operation
		if err := json.Unmarshal([]byte(out), &op); err != nil {
			t.Fatalf("admin %s: %v: %s", verb, err, out)
		}
		return op
	}
	req := admin("", "request", "remote_lock", "--param", "device_id="+rec.DeviceID, "--param", "reason=lost laptop")
	signed := admin(sysadmin.PIN+"\n", "sign", "--pin-stdin", "--reader", sysadmin.Key.Reader, req.Operation.ID)
	if signed.Operation.State != "applied" {
		t.Fatalf("remote_lock: %+v", signed.Operation)
	}
	t0 := time.Now()

	// The agent fetches at once on a local trigger.
	c := status.NewClient(func(ctx context.Context) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, "unix", localsock.DefaultPath(root))
	})
	if err := c.Reconcile(context.Background()); err != nil {
		t.Fatalf("POST %s: %v", status.PathReconcile, err)
	}
	s := waitStatus(t, root, "locked and acknowledged", 20*time.Second, func(s *status.Status) bool {
		return s.Commands != nil && s.Commands.State == "locked" && s.Commands.Last != nil && s.Commands.Last.Acknowledged
	})
	t.Logf("locked %s after the signature: %+v; tunnel %s (%s)", time.Since(t0).Round(time.Millisecond),
		*s.Commands.Last, s.Tunnel.State, s.Tunnel.Message)
	if l := s.Commands.Last; l.Result != "done" || l.Kind != "lock" || l.OperationID != req.Operation.ID {
		t.Errorf("last command %+v, want a done lock for operation %s", l, req.Operation.ID)
	}
	if s.Tunnel.State == "up" {
		t.Errorf("tunnel still up after the lock: %+v", s.Tunnel)
	}
	if !fileExists(filepath.Join(root, "etc", "nologin")) {
		t.Error("no /etc/nologin under the sandbox root")
	}
	if b, err := os.ReadFile(filepath.Join(root, "etc", "shadow")); err != nil || !strings.Contains(string(b), "alice:!") {
		t.Errorf("sandbox shadow after the lock (want alice locked): %s %v", b, err)
	}
	if b, _ := os.ReadFile("/etc/shadow"); !bytes.Equal(b, hostShadow) {
		t.Error("this machine's /etc/shadow changed during the test")
	}
	if fileExists("/etc/nologin") != hostNologin {
		t.Error("this machine's /etc/nologin changed during the test")
	}

	for deadline := time.Now().Add(10 * time.Second); len(hubPeers(t, hubIf)) != 0; time.Sleep(50 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("hub still has peers %v 10 s after the lock", hubPeers(t, hubIf))
		}
	}
	if err := e2e.Ping(lapNS, hubTunnel, time.Second); err == nil {
		t.Error("ping through the tunnel still works after the lock")
	}

	out := e2e.Command(t, e2e.Bin("kiwistack-api"), "audit", "list", "--state", state, "--json")
	var entries []auditlog.Entry
	if err := json.Unmarshal([]byte(out), &entries); err != nil {
		t.Fatalf("audit list: %v: %s", err, out)
	}
	acked := false
	for _, e := range entries {
		if e.Operation == "device_command" && e.Result == "command_acknowledged" && e.Reason == "done" {
			acked = true
		}
	}
	if !acked {
		t.Errorf("no acknowledged device_command in the audit log:\n%s", out)
	}
}

func fileExists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}
