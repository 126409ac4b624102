//go:build linux

package wgnetns

import (
	"bufio"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.zx2c4.com/wireguard/conn"
	"golang.zx2c4.com/wireguard/device"
	"golang.zx2c4.com/wireguard/ipc"
	"golang.zx2c4.com/wireguard/tun"

	"github.com/kiwistack/endpoint/agent/wgkey"
	"github.com/kiwistack/endpoint/internal/syncbuf"
	"github.com/kiwistack/endpoint/test/e2e"
)

// helperEnv, when set, makes the test binary run as the WireGuard helper
// for the interface it names instead of running tests.
const helperEnv = "KIWISTACK_WGNETNS_HELPER"

const (
	hubUnderlay = "10.213.0.1"
	lapUnderlay = "10.213.0.2"
	hubTunnel   = "10.214.0.1"
	lapTunnel   = "10.214.0.2"
	listenPort  = 51820
)

func TestMain(m *testing.M) {
	if name := os.Getenv(helperEnv); name != "" {
		if err := runHelper(name, os.Stdin, os.Stdout); err != nil {
			fmt.Fprintf(os.Stderr, "wireguard helper %s: %v\n", name, err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// runHelper runs wireguard-go on a new TUN interface called name, in the
// network namespace the process was started in, with its UAPI socket in the
// shared socket directory. It writes "ready" once the socket listens and
// stops when stdin closes.
func runHelper(name string, stdin io.Reader, stdout io.Writer) error {
	tdev, err := tun.CreateTUN(name, device.DefaultMTU)
	if err != nil {
		return fmt.Errorf("creating tun: %w", err)
	}
	// Log to stderr, which the test shows when it fails; stdout carries
	// only the ready line.
	logf := log.New(os.Stderr, name+": ", log.Ltime|log.Lmicroseconds).Printf
	dev := device.NewDevice(tdev, conn.NewDefaultBind(), &device.Logger{Verbosef: logf, Errorf: logf})
	defer dev.Close()
	f, err := ipc.UAPIOpen(name)
	if err != nil {
		return fmt.Errorf("opening uapi socket: %w", err)
	}
	l, err := ipc.UAPIListen(name, f)
	if err != nil {
		return fmt.Errorf("listening on uapi socket: %w", err)
	}
	defer l.Close()
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			go dev.IpcHandle(c)
		}
	}()
	if _, err := fmt.Fprintln(stdout, "ready"); err != nil {
		return fmt.Errorf("reporting ready: %w", err)
	}
	_, _ = io.Copy(io.Discard, stdin)
	return nil
}

// startHelper starts the test binary as the WireGuard helper for ifname
// inside ns and waits until its UAPI socket listens. Cleanup stops it.
func startHelper(t *testing.T, ns, ifname string) {
	t.Helper()
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("ip", "netns", "exec", ns, self)
	cmd.Env = append(os.Environ(), helperEnv+"="+ifname)
	var stderr syncbuf.Buffer
	cmd.Stderr = &stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting helper in %s: %v", ns, err)
	}
	exited := make(chan error, 1)
	ready := make(chan bool, 1)
	go func() {
		line, _ := bufio.NewReader(stdout).ReadString('\n')
		ready <- line == "ready\n"
		_, _ = io.Copy(io.Discard, stdout)
		exited <- cmd.Wait()
	}()
	t.Cleanup(func() {
		_ = stdin.Close()
		select {
		case <-exited:
		case <-time.After(5 * time.Second):
			_ = cmd.Process.Kill()
			<-exited
		}
		_ = os.Remove(socketPath(ifname))
		if t.Failed() && stderr.String() != "" {
			t.Logf("helper %s in %s said:\n%s", ifname, ns, stderr.String())
		}
	})
	select {
	case ok := <-ready:
		if !ok {
			t.Fatalf("helper %s in %s did not start:\n%s", ifname, ns, stderr.String())
		}
	case <-time.After(10 * time.Second):
		t.Fatalf("helper %s in %s not ready after 10s:\n%s", ifname, ns, stderr.String())
	}
}

func socketPath(ifname string) string {
	return filepath.Join("/var/run/wireguard", ifname+".sock")
}

// uapi sends one request in the WireGuard cross-platform userspace
// protocol to ifname's socket and returns the response's key=value lines,
// failing the test unless it ends with errno=0.
func uapi(t *testing.T, ifname, request string) []string {
	t.Helper()
	c, err := net.DialTimeout("unix", socketPath(ifname), 5*time.Second)
	if err != nil {
		t.Fatalf("uapi %s: %v", ifname, err)
	}
	defer c.Close()
	if err := c.SetDeadline(time.Now().Add(5 * time.Second)); err != nil {
		t.Fatal(err)
	}
	if _, err := io.WriteString(c, request+"\n"); err != nil {
		t.Fatalf("uapi %s: writing: %v", ifname, err)
	}
	var lines []string
	r := bufio.NewReader(c)
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			t.Fatalf("uapi %s: reading after %q: %v", ifname, lines, err)
		}
		line = strings.TrimSuffix(line, "\n")
		if line == "" {
			break
		}
		lines = append(lines, line)
	}
	if len(lines) == 0 || lines[len(lines)-1] != "errno=0" {
		t.Fatalf("uapi %s: request %q answered %q", ifname, request, lines)
	}
	return lines[:len(lines)-1]
}

// hexKey turns a wg base64 key into the hex form the UAPI speaks.
func hexKey(t *testing.T, b64 string) string {
	t.Helper()
	raw, err := base64.StdEncoding.DecodeString(b64)
	if err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(raw)
}

// peerState returns the given peer's fields from a UAPI get of ifname,
// and whether the peer is configured at all.
func peerState(t *testing.T, ifname, peerHex string) (map[string]string, bool) {
	t.Helper()
	var peer map[string]string
	current := ""
	for _, line := range uapi(t, ifname, "get=1\n") {
		k, v, _ := strings.Cut(line, "=")
		if k == "public_key" {
			current = v
			if v == peerHex {
				peer = map[string]string{}
			}
			continue
		}
		if current == peerHex {
			peer[k] = v
		}
	}
	return peer, peer != nil
}

// TestTunnel brings up a WireGuard tunnel between a hub and a laptop
// namespace with keys derived from two device keys, checks the handshake and
// a ping through the tunnel, then removes the laptop's peer on the hub and
// checks that the ping fails.
func TestTunnel(t *testing.T) {
	e2e.RequireNetns(t, "the WireGuard tunnel test")

	pid := os.Getpid()
	hubNS, lapNS := fmt.Sprintf("kshub-%d", pid), fmt.Sprintf("kslap-%d", pid)
	// Interface names must differ across namespaces because the UAPI socket
	// directory is shared; the pid keeps parallel runs apart. At most 15 bytes.
	hubIf, lapIf := fmt.Sprintf("kshub%d", pid), fmt.Sprintf("kslap%d", pid)
	hubVeth, lapVeth := fmt.Sprintf("ksvh%d", pid), fmt.Sprintf("ksvl%d", pid)

	hubKey, lapKey := deviceKey(t), deviceKey(t)
	hubWG, err := wgkey.Derive(hubKey, "kiwi-test", "hub")
	if err != nil {
		t.Fatal(err)
	}
	lapWG, err := wgkey.Derive(lapKey, "kiwi-test", "laptop-1")
	if err != nil {
		t.Fatal(err)
	}

	e2e.AddNetns(t, hubNS)
	e2e.AddNetns(t, lapNS)
	e2e.Veth(t, hubNS, hubVeth, hubUnderlay+"/24", lapNS, lapVeth, lapUnderlay+"/24")

	startHelper(t, hubNS, hubIf)
	startHelper(t, lapNS, lapIf)

	lapHex, hubHex := hexKey(t, lapWG.PublicKey), hexKey(t, hubWG.PublicKey)
	uapi(t, hubIf, fmt.Sprintf("set=1\nprivate_key=%s\nlisten_port=%d\nreplace_peers=true\npublic_key=%s\nendpoint=%s:%d\nreplace_allowed_ips=true\nallowed_ip=%s/32\n",
		hexKey(t, hubWG.PrivateKey), listenPort, lapHex, lapUnderlay, listenPort, lapTunnel))
	uapi(t, lapIf, fmt.Sprintf("set=1\nprivate_key=%s\nlisten_port=%d\nreplace_peers=true\npublic_key=%s\nendpoint=%s:%d\nreplace_allowed_ips=true\nallowed_ip=%s/32\n",
		hexKey(t, lapWG.PrivateKey), listenPort, hubHex, hubUnderlay, listenPort, hubTunnel))
	e2e.Command(t, "ip", "-n", hubNS, "addr", "add", hubTunnel+"/24", "dev", hubIf)
	e2e.Command(t, "ip", "-n", lapNS, "addr", "add", lapTunnel+"/24", "dev", lapIf)
	e2e.Command(t, "ip", "-n", hubNS, "link", "set", hubIf, "up")
	e2e.Command(t, "ip", "-n", lapNS, "link", "set", lapIf, "up")

	// The first packet waits for the handshake; allow a few tries.
	deadline := time.Now().Add(20 * time.Second)
	for {
		err := e2e.Ping(hubNS, lapTunnel, 2*time.Second)
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("ping %s from %s through the tunnel: %v", lapTunnel, hubNS, err)
		}
		time.Sleep(200 * time.Millisecond)
	}

	for _, side := range []struct{ ifname, peer string }{{hubIf, lapHex}, {lapIf, hubHex}} {
		st, ok := peerState(t, side.ifname, side.peer)
		if !ok {
			t.Fatalf("%s has no peer %s", side.ifname, side.peer)
		}
		if sec := st["last_handshake_time_sec"]; sec == "" || sec == "0" {
			t.Errorf("%s: no handshake with %s: %v", side.ifname, side.peer, st)
		}
		if st["rx_bytes"] == "0" {
			t.Errorf("%s: nothing received from %s: %v", side.ifname, side.peer, st)
		}
	}

	// What the hub does on revocation: drop the peer.
	uapi(t, hubIf, fmt.Sprintf("set=1\npublic_key=%s\nremove=true\n", lapHex))
	if _, ok := peerState(t, hubIf, lapHex); ok {
		t.Fatalf("%s still has peer %s after removal", hubIf, lapHex)
	}
	err = e2e.Ping(hubNS, lapTunnel, 2*time.Second)
	if err == nil {
		t.Fatalf("ping %s from %s succeeded after the peer was removed", lapTunnel, hubNS)
	}
	var exitErr *exec.ExitError
	if !errors.As(err, &exitErr) || exitErr.ExitCode() != 1 {
		// ping exits 1 when no reply came, 2 on any other error.
		t.Fatalf("ping after removal failed for another reason than no reply: %v", err)
	}
	t.Logf("after removing the peer, ping fails as it should: %v", err)
}

// deviceKey makes a software P-256 device key, as enrollment does.
func deviceKey(t *testing.T) *ecdsa.PrivateKey {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}
