//go:build linux

package wgnetns

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/kiwistack/endpoint/agent/wgkey"
	"github.com/kiwistack/endpoint/test/e2e"
	"github.com/kiwistack/endpoint/test/wgtest"
)

const (
	hubUnderlay = "10.213.0.1"
	lapUnderlay = "10.213.0.2"
	hubTunnel   = "10.214.0.1"
	lapTunnel   = "10.214.0.2"
	listenPort  = 51820
)

func TestMain(m *testing.M) {
	wgtest.RunHelperIfAsked()
	os.Exit(m.Run())
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
	for _, line := range wgtest.UAPI(t, ifname, "get=1\n") {
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

	wgtest.Start(t, hubNS, hubIf)
	wgtest.Start(t, lapNS, lapIf)

	lapHex, hubHex := hexKey(t, lapWG.PublicKey), hexKey(t, hubWG.PublicKey)
	wgtest.UAPI(t, hubIf, fmt.Sprintf("set=1\nprivate_key=%s\nlisten_port=%d\nreplace_peers=true\npublic_key=%s\nendpoint=%s:%d\nreplace_allowed_ips=true\nallowed_ip=%s/32\n",
		hexKey(t, hubWG.PrivateKey), listenPort, lapHex, lapUnderlay, listenPort, lapTunnel))
	wgtest.UAPI(t, lapIf, fmt.Sprintf("set=1\nprivate_key=%s\nlisten_port=%d\nreplace_peers=true\npublic_key=%s\nendpoint=%s:%d\nreplace_allowed_ips=true\nallowed_ip=%s/32\n",
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
	wgtest.UAPI(t, hubIf, fmt.Sprintf("set=1\npublic_key=%s\nremove=true\n", lapHex))
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
