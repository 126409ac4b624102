//go:build linux

package tunnel

import (
	"bufio"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/kiwistack/endpoint/agent/claim"
	"github.com/kiwistack/endpoint/agent/enrollment"
	"github.com/kiwistack/endpoint/agent/status"
	"github.com/kiwistack/endpoint/internal/syncbuf"
	"github.com/kiwistack/endpoint/platform/paths"
	"github.com/kiwistack/endpoint/test/e2e"
)

const (
	hubUnderlay = "10.215.0.1"
	lapUnderlay = "10.215.0.2"
	hubPort     = 51821
	hubPrefix   = "100.96.0.0/16"
	hubTunnel   = "100.96.0.1"
	// lifetime is the device certificates' lifetime: short, so that the
	// agent renews during the test.
	lifetime = 60 * time.Second
)

func TestMain(m *testing.M) {
	if e2e.NetnsMissing(what) != "" {
		// TestClaimTunnelRevoke reports it; nothing to build.
		os.Exit(m.Run())
	}
	os.Exit(e2e.Main(m, "kiwistack-api", "kiwistack-agent", "kiwistack-enroll"))
}

// what names the test in the reason it skips.
const what = "the tunnel end-to-end test"

// proc is a binary running in a namespace until the test ends.
type proc struct {
	logs syncbuf.Buffer
	stop func()
}

// start runs bin with args in ns; lines of its stdout go to lines.
func start(t *testing.T, ns, name, bin string, lines chan<- string, args ...string) *proc {
	t.Helper()
	p := &proc{}
	cmd := exec.Command("ip", append([]string{"netns", "exec", ns, e2e.Bin(bin)}, args...)...)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = &p.logs
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting %s: %v", name, err)
	}
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if lines != nil {
				lines <- sc.Text()
			}
		}
		_, _ = io.Copy(io.Discard, stdout)
	}()
	var once sync.Once
	p.stop = func() {
		once.Do(func() {
			_ = cmd.Process.Signal(os.Interrupt)
			done := make(chan struct{})
			go func() { _ = cmd.Wait(); close(done) }()
			select {
			case <-done:
			case <-time.After(10 * time.Second):
				_ = cmd.Process.Kill()
				<-done
			}
		})
	}
	t.Cleanup(func() {
		p.stop()
		if t.Failed() {
			t.Logf("%s log:\n%s", name, p.logs.String())
		}
	})
	return p
}

// startDev runs `kiwistack-api dev --state state args…` in ns until the
// test ends and returns it once it printed its API URL and root
// fingerprint.
func startDev(t *testing.T, ns, state string, args ...string) *e2e.Tenant {
	t.Helper()
	lines := make(chan string, 100)
	p := start(t, ns, "kiwistack-api dev ("+state+")", "kiwistack-api", lines, append([]string{"dev", "--state", state}, args...)...)
	tn := &e2e.Tenant{State: state, Netns: ns, Stop: p.stop}
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
	return tn
}

// agentStatus asks the agent for its status over its local socket.
func agentStatus(root string) (*status.Status, error) {
	out, err := e2e.CommandErr(e2e.Bin("kiwistack-agent"), "status", "--json", "--root", root)
	if err != nil {
		return nil, fmt.Errorf("%w: %s", err, out)
	}
	var s status.Status
	if err := json.Unmarshal(out, &s); err != nil {
		return nil, fmt.Errorf("%w: %s", err, out)
	}
	return &s, nil
}

func waitStatus(t *testing.T, root, what string, within time.Duration, ok func(*status.Status) bool) *status.Status {
	t.Helper()
	var last *status.Status
	var lastErr error
	for deadline := time.Now().Add(within); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		s, err := agentStatus(root)
		if err == nil && ok(s) {
			return s
		}
		last, lastErr = s, err
	}
	b, _ := json.MarshalIndent(last, "", "  ")
	t.Fatalf("agent: no %s within %s; last status %s, err %v", what, within, b, lastErr)
	return nil
}

// hubPeers returns the public keys (hex) of the hub interface's peers,
// read over its UAPI socket.
func hubPeers(t *testing.T, ifname string) []string {
	t.Helper()
	c, err := net.DialTimeout("unix", filepath.Join("/var/run/wireguard", ifname+".sock"), 5*time.Second)
	if err != nil {
		t.Fatalf("hub uapi: %v", err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := io.WriteString(c, "get=1\n\n"); err != nil {
		t.Fatal(err)
	}
	var peers []string
	r := bufio.NewReader(c)
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			t.Fatalf("hub uapi: %v", err)
		}
		line = strings.TrimSpace(line)
		if line == "" {
			return peers
		}
		if k, ok := strings.CutPrefix(line, "public_key="); ok {
			peers = append(peers, k)
		}
	}
}

// sandbox makes a laptop root with a Linux-shaped hardware identity.
func sandbox(t *testing.T, serial string) string {
	t.Helper()
	root := t.TempDir()
	id := make([]byte, 16)
	_, _ = rand.Read(id)
	uuid := fmt.Sprintf("%x-%x-%x-%x-%x", id[0:4], id[4:6], id[6:8], id[8:10], id[10:16])
	for p, v := range map[string]string{
		"sys/class/dmi/id/product_serial": serial, "sys/class/dmi/id/product_uuid": uuid,
		"etc/machine-id": hex.EncodeToString(id),
	} {
		if err := os.MkdirAll(filepath.Dir(filepath.Join(root, p)), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(root, p), []byte(v+"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return root
}

// TestClaimTunnelRevoke: OEM claim, tunnel up, ping, renewal, still up,
// revoke, peer gone, ping fails, agent says revoked.
func TestClaimTunnelRevoke(t *testing.T) {
	e2e.RequireNetns(t, what)

	pid := os.Getpid()
	hubNS, lapNS := fmt.Sprintf("ksthub-%d", pid), fmt.Sprintf("kstlap-%d", pid)
	// The UAPI socket directory is shared: names differ per namespace.
	hubIf, lapIf := fmt.Sprintf("ksth%d", pid), fmt.Sprintf("kstl%d", pid)
	hubVeth, lapVeth := fmt.Sprintf("kstvh%d", pid), fmt.Sprintf("kstvl%d", pid)
	e2e.AddNetns(t, hubNS)
	e2e.AddNetns(t, lapNS)
	e2e.Veth(t, hubNS, hubVeth, hubUnderlay+"/24", lapNS, lapVeth, lapUnderlay+"/24")

	state := filepath.Join(t.TempDir(), "tenant")
	tn := startDev(t, hubNS, state, "--tenant", "acme-corp",
		"--listen", hubUnderlay+":0", "--hub-listen", fmt.Sprintf("%s:%d", hubUnderlay, hubPort), "--hub-interface", hubIf,
		"--hub-prefix", hubPrefix, "--device-lifetime", lifetime.String(), "--hub-resync", "2s")
	apiURL := tn.APIURL

	serial := fmt.Sprintf("KS-TUNNEL-%d", pid)
	root := sandbox(t, serial)
	layout := paths.Under(root)
	if err := os.MkdirAll(filepath.Dir(claim.BootstrapPath(layout)), 0o755); err != nil {
		t.Fatal(err)
	}
	e2e.Command(t, "ip", "netns", "exec", hubNS, e2e.Bin("kiwistack-api"), "bootstrap", "create", "--state", state,
		"--serial", serial, "--api", apiURL, "--expires", "1h", "--out", claim.BootstrapPath(layout))

	// Claim to tunnel up: from the agent's start to its status saying up.
	t0 := time.Now()
	start(t, lapNS, "kiwistack-agent", "kiwistack-agent", nil, "run", "--root", root, "--tunnel-interface", lapIf)
	s := waitStatus(t, root, "tunnel up", 30*time.Second, func(s *status.Status) bool { return s.Tunnel.State == "up" })
	claimToUp := time.Since(t0)
	t.Logf("claim to tunnel up: %s (agent start, OEM claim, certificate installed, check-in, tunnel configured); backend %s, address %s",
		claimToUp.Round(time.Millisecond), s.Tunnel.Backend, s.Tunnel.Address)
	if claimToUp > 10*time.Second {
		t.Errorf("claim to tunnel up took %s, want under 10 s", claimToUp)
	}
	rec, err := enrollment.Read(layout)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(claim.BootstrapPath(layout)); !os.IsNotExist(err) {
		t.Errorf("the spent bootstrap file is still there: %v", err)
	}

	pingUntil := func(what string) time.Duration {
		t.Helper()
		t1 := time.Now()
		for deadline := time.Now().Add(20 * time.Second); ; {
			err := e2e.Ping(lapNS, hubTunnel, time.Second)
			if err == nil {
				return time.Since(t1)
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s: ping %s from the laptop through the tunnel: %v", what, hubTunnel, err)
			}
		}
	}
	t.Logf("first ping through the tunnel after %s", pingUntil("after the claim").Round(time.Millisecond))
	s = waitStatus(t, root, "handshake", 10*time.Second, func(s *status.Status) bool { return !s.Tunnel.LastHandshake.IsZero() })
	t.Logf("tunnel: %+v", s.Tunnel)
	if len(hubPeers(t, hubIf)) != 1 {
		t.Fatalf("hub peers = %v, want the laptop's", hubPeers(t, hubIf))
	}

	// Renewal with the tunnel still up.
	first := s.Certificate.Serial
	s = waitStatus(t, root, "renewal", 2*lifetime, func(s *status.Status) bool {
		return s.Certificate != nil && s.Certificate.Serial != first && s.Tunnel.State == "up"
	})
	t.Logf("renewed: %s -> %s, not after %s", first, s.Certificate.Serial, s.Certificate.NotAfter.Format(time.RFC3339))
	pingUntil("after the renewal")

	// Revocation: the hub drops the peer at once (the revoke reaches the
	// API, which pokes the hub; the resync is 2 s), the ping fails, and the
	// agent learns it at its next renewal.
	out := e2e.Command(t, "ip", "netns", "exec", hubNS, e2e.Bin("kiwistack-api"), "devices", "revoke", "--state", state, rec.DeviceID,
		"--reason", "stolen")
	t.Logf("devices revoke:\n%s", out)
	t2 := time.Now()
	for deadline := time.Now().Add(10 * time.Second); len(hubPeers(t, hubIf)) != 0; time.Sleep(50 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("hub still has peers %v 10 s after the revocation", hubPeers(t, hubIf))
		}
	}
	t.Logf("hub peer removed %s after the revocation", time.Since(t2).Round(time.Millisecond))
	if err := e2e.Ping(lapNS, hubTunnel, time.Second); err == nil {
		t.Fatal("ping through the tunnel still works after the revocation")
	}
	s = waitStatus(t, root, "revoked", 2*lifetime, func(s *status.Status) bool {
		return s.Tunnel.State == "revoked" && s.Certificate != nil && s.Certificate.State == "revoked"
	})
	t.Logf("agent: tunnel %s (%s), certificate %s", s.Tunnel.State, s.Tunnel.Message, s.Certificate.State)
}
