//go:build linux

package tunnel

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/kiwistack/endpoint/agent/claim"
	"github.com/kiwistack/endpoint/agent/enrollment"
	"github.com/kiwistack/endpoint/agent/status"
	"github.com/kiwistack/endpoint/enroll/adminjson"
	"github.com/kiwistack/endpoint/enroll/protocol"
	"github.com/kiwistack/endpoint/platform/paths"
	"github.com/kiwistack/endpoint/server/ca"
	"github.com/kiwistack/endpoint/server/dev"
	"github.com/kiwistack/endpoint/test/e2e"
	"github.com/kiwistack/endpoint/test/pcsctest"
)

// rotationLifetime is the device certificates' lifetime in the rotation
// test: the agents renew about every 60 s, which is when a refused
// renewal sends tenant A's agent to POST /v1/device/reissue.
const rotationLifetime = 90 * time.Second

// TestRotateIntermediateTwoTenants is seed D4 scenario 03 (compromised
// intermediate): two dev tenants under one MSP root, a claimed laptop each
// (A's on the tunnel). A's founder (virtual YubiKey) signs
// rotate_intermediate with a new intermediate the MSP signed, and the
// operator co-signs. Then: the hub drops A's peer, A's API refuses the old
// certificate (intermediate_retired) and the founder's old slot 9a
// certificate; A's agent, refused renewal by step-ca, gets a certificate
// of the new intermediate for the same key from the API and is back on
// the tunnel; the old certificate stays refused. Tenant B renews under its
// own, unchanged intermediate throughout.
func TestRotateIntermediateTwoTenants(t *testing.T) {
	e2e.RequireNetns(t, what)
	pcsctest.Require(t)
	sk := pcsctest.Start(t, pcsctest.Options{Version: "5.7.1"})
	attCert, _ := pcsctest.AttestationRoot(t)
	attRoot := e2e.WriteAttestationRoot(t, attCert)

	pid := os.Getpid()
	hubNS, lapNS := fmt.Sprintf("ksrhub-%d", pid), fmt.Sprintf("ksrlap-%d", pid)
	hubIf, lapIf := fmt.Sprintf("ksrh%d", pid), fmt.Sprintf("ksrl%d", pid)
	hubVeth, lapVeth := fmt.Sprintf("ksrvh%d", pid), fmt.Sprintf("ksrvl%d", pid)
	e2e.AddNetns(t, hubNS)
	e2e.AddNetns(t, lapNS)
	e2e.Veth(t, hubNS, hubVeth, hubUnderlay+"/24", lapNS, lapVeth, lapUnderlay+"/24")

	msp := filepath.Join(t.TempDir(), "msp")
	stateA, stateB := filepath.Join(t.TempDir(), "acme"), filepath.Join(t.TempDir(), "beta")
	a := startDev(t, hubNS, stateA, "--tenant", e2e.TenantName, "--msp", msp,
		"--listen", hubUnderlay+":0", "--hub-listen", fmt.Sprintf("%s:%d", hubUnderlay, hubPort), "--hub-interface", hubIf,
		"--hub-prefix", hubPrefix, "--hub-resync", "2s", "--attestation-root", attRoot, "--device-lifetime", rotationLifetime.String())
	b := startDev(t, hubNS, stateB, "--tenant", "beta-corp", "--msp", msp, "--listen", hubUnderlay+":0",
		"--device-lifetime", rotationLifetime.String())
	if a.Fingerprint != b.Fingerprint {
		t.Fatalf("tenants under one MSP have roots %s and %s", a.Fingerprint, b.Fingerprint)
	}
	interA, interB := readCert(t, filepath.Join(dev.CAPath(stateA), ca.IntermediateCertFile)),
		readCert(t, filepath.Join(dev.CAPath(stateB), ca.IntermediateCertFile))

	claimLaptop := func(tn *e2e.Tenant, serial string, tunnel bool) (string, *enrollment.Record) {
		t.Helper()
		root := sandbox(t, serial)
		layout := paths.Under(root)
		if err := os.MkdirAll(filepath.Dir(claim.BootstrapPath(layout)), 0o755); err != nil {
			t.Fatal(err)
		}
		e2e.Command(t, "ip", "netns", "exec", hubNS, e2e.Bin("kiwistack-api"), "bootstrap", "create", "--state", tn.State,
			"--serial", serial, "--api", tn.APIURL, "--expires", "1h", "--out", claim.BootstrapPath(layout))
		args := []string{"run", "--root", root}
		if tunnel {
			args = append(args, "--tunnel-interface", lapIf)
		}
		start(t, lapNS, "kiwistack-agent ("+serial+")", "kiwistack-agent", nil, args...)
		waitStatus(t, root, "claimed", 30*time.Second, func(s *status.Status) bool {
			return s.Certificate != nil && s.Certificate.Serial != "" && (!tunnel || s.Tunnel.State == "up")
		})
		rec, err := enrollment.Read(layout)
		if err != nil {
			t.Fatal(err)
		}
		return root, rec
	}
	rootA, recA := claimLaptop(a, fmt.Sprintf("KS-ROT-A-%d", pid), true)
	rootB, _ := claimLaptop(b, fmt.Sprintf("KS-ROT-B-%d", pid), false)
	pingUntil(t, lapNS, 20*time.Second, "after the claim")
	if n := len(hubPeers(t, hubIf)); n != 1 {
		t.Fatalf("hub has %d peers, want A's laptop", n)
	}

	founder := e2e.Provision(t, a, sk, attRoot, "Fiona Founder", "founder")
	admin := func(stdin, verb string, extra ...string) (adminjson.Operation, string, int) {
		t.Helper()
		args := append([]string{"admin", verb, "--api", a.APIURL, "--tenant", e2e.TenantName,
			"--root-fingerprint", a.Fingerprint, "--json"}, extra...)
		out, errOut, code := e2e.RunIn(t, hubNS, stdin, "kiwistack-enroll", args...)
		var op adminjson.Operation
		if code == 0 {
			if err := json.Unmarshal([]byte(out), &op); err != nil {
				t.Fatalf("admin %s: %v: %s", verb, err, out)
			}
		}
		return op, errOut, code
	}

	// The MSP signs the next intermediate for the key A's CA made.
	dir := t.TempDir()
	csr := filepath.Join(dir, "next.csr")
	next := filepath.Join(dir, "next.crt")
	if err := os.WriteFile(csr, []byte(e2e.MustRun(t, "", "kiwistack-api", "intermediate", "request", "--state", stateA,
		"--tenant", e2e.TenantName)), 0o600); err != nil {
		t.Fatal(err)
	}
	e2e.MustRun(t, "", "kiwistack-api", "msp", "sign-intermediate", "--msp", msp, "--tenant", e2e.TenantName, "--csr", csr, "--out", next)
	newInter := readCert(t, next)

	// Old device certificate of A's laptop, kept to be presented later.
	oldCert, err := tls.LoadX509KeyPair(recA.Certificate, recA.Key)
	if err != nil {
		t.Fatal(err)
	}

	req, errOut, code := admin("", "request", "rotate_intermediate", "--document", next, "--param", "reason=intermediate key exposed")
	if code != 0 {
		t.Fatalf("request rotate_intermediate: exit %d: %s", code, errOut)
	}
	signed, errOut, code := admin(founder.PIN+"\n", "sign", "--pin-stdin", "--reader", founder.Key.Reader, req.Operation.ID)
	if code != 0 || signed.Operation.State == "applied" {
		t.Fatalf("founder's signature: exit %d %+v %s", code, signed.Operation, errOut)
	}
	t0 := time.Now()
	e2e.MustRunIn(t, hubNS, "", "kiwistack-api", "operator", "sign", "--state", stateA, "--api", a.APIURL, req.Operation.ID)
	if got := readCert(t, filepath.Join(dev.CAPath(stateA), ca.IntermediateCertFile)); !got.Equal(newInter) {
		t.Fatal("A's CA does not have the new intermediate after the operator's co-signature")
	}

	// The hub drops A's peer; A's API refuses the old certificate.
	for deadline := time.Now().Add(10 * time.Second); len(hubPeers(t, hubIf)) != 0; time.Sleep(50 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("hub still has peers %v 10 s after the rotation", hubPeers(t, hubIf))
		}
	}
	t.Logf("hub peer dropped %s after the rotation applied", time.Since(t0).Round(time.Millisecond))
	checkIn := func(cert tls.Certificate) (int, protocol.ErrorResponse) {
		t.Helper()
		roots := x509.NewCertPool()
		roots.AddCert(readCert(t, filepath.Join(dev.CAPath(stateA), ca.RootCertFile)))
		tr := &http.Transport{DialContext: e2e.DialIn(lapNS), DisableKeepAlives: true,
			TLSClientConfig: &tls.Config{RootCAs: roots, Certificates: []tls.Certificate{cert}}}
		resp, err := (&http.Client{Transport: tr, Timeout: 10 * time.Second}).Get(a.APIURL + protocol.PathDeviceConfig)
		if err != nil {
			t.Fatalf("check-in from the laptop's namespace: %v", err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		var er protocol.ErrorResponse
		_ = json.Unmarshal(body, &er)
		return resp.StatusCode, er
	}
	if code, er := checkIn(oldCert); code != http.StatusUnauthorized || er.Reason != "intermediate_retired" {
		t.Errorf("old certificate at A's check-in: %d %+v, want 401 intermediate_retired", code, er)
	}
	// The founder's slot 9a certificate is from the old intermediate too.
	burn, errOut, code := admin("", "request", "burn_key", "--param", fmt.Sprintf("serial=%d", sk.Serial), "--param", "reason=test")
	if code != 0 {
		t.Fatalf("request burn_key: exit %d: %s", code, errOut)
	}
	if _, errOut, code := admin(founder.PIN+"\n", "sign", "--pin-stdin", "--reader", founder.Key.Reader, burn.Operation.ID); code == 0 {
		t.Error("a slot 9a certificate of the retired intermediate signed after the rotation")
	} else if !strings.Contains(errOut, "intermediate_retired") {
		t.Errorf("old admin certificate refused without saying why: %s", errOut)
	}
	// The founder's key gets a certificate of the new intermediate for the
	// same key, and signs again (a read of the audit log, any key's).
	out := e2e.MustRunIn(t, hubNS, "", "kiwistack-enroll", "keys", "refresh", "--api", a.APIURL, "--root-fingerprint", a.Fingerprint,
		"--current-secrets", founder.Secrets, "--reader", founder.Key.Reader, "--attestation-root", attRoot)
	t.Logf("keys refresh:\n%s", out)
	if _, errOut, code := admin(founder.PIN+"\n", "audit", "--verify", "--pin-stdin", "--reader", founder.Key.Reader); code != 0 {
		t.Errorf("the refreshed founder key cannot read the audit log: %s", errOut)
	}

	// A's agent: refused renewal, then a reissued certificate for the same
	// key from the new intermediate, and the tunnel back.
	s := waitStatus(t, rootA, "reissued under the new intermediate", 3*rotationLifetime, func(s *status.Status) bool {
		c, err := os.ReadFile(recA.Certificate)
		if err != nil {
			return false
		}
		leaf := firstPEM(c)
		return leaf != nil && leaf.CheckSignatureFrom(newInter) == nil && s.Tunnel.State == "up"
	})
	t.Logf("A reissued %s after the rotation: certificate %s, tunnel %s", time.Since(t0).Round(time.Second), s.Certificate.Serial, s.Tunnel.State)
	leaf := firstPEM(mustRead(t, recA.Certificate))
	if !bytes.Equal(leaf.RawSubjectPublicKeyInfo, oldCert.Leaf.RawSubjectPublicKeyInfo) {
		t.Error("the reissued certificate is for another key")
	}
	for deadline := time.Now().Add(15 * time.Second); len(hubPeers(t, hubIf)) != 1; time.Sleep(100 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("hub peers %v 15 s after the reissue, want A's laptop again", hubPeers(t, hubIf))
		}
	}
	pingUntil(t, lapNS, 20*time.Second, "after the reissue")
	if code, er := checkIn(oldCert); code != http.StatusUnauthorized {
		t.Errorf("old certificate checks in again after the reissue: %d %+v", code, er)
	}

	// Tenant B: same intermediate, its laptop renewed under it meanwhile.
	if got := readCert(t, filepath.Join(dev.CAPath(stateB), ca.IntermediateCertFile)); !got.Equal(interB) || got.Equal(interA) {
		t.Error("tenant B's intermediate changed")
	}
	layoutB := paths.Under(rootB)
	sb, err := agentStatus(rootB)
	if err != nil {
		t.Fatal(err)
	}
	if sb.Certificate == nil || sb.Certificate.State == "refused" || sb.Certificate.ReEnroll {
		t.Errorf("tenant B's laptop after A's rotation: %+v", sb.Certificate)
	}
	if leafB := firstPEM(mustRead(t, layoutB.DeviceCert())); leafB == nil || leafB.CheckSignatureFrom(interB) != nil || !leafB.NotBefore.After(t0.Add(-rotationLifetime)) {
		t.Errorf("tenant B's certificate is not a recent one of B's intermediate")
	}
}

// pingUntil pings the hub through the tunnel from ns until it answers.
func pingUntil(t *testing.T, ns string, within time.Duration, what string) {
	t.Helper()
	for deadline := time.Now().Add(within); ; {
		err := e2e.Ping(ns, hubTunnel, time.Second)
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: ping %s through the tunnel: %v", what, hubTunnel, err)
		}
	}
}

func mustRead(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// readCert reads the first certificate of a PEM file.
func readCert(t *testing.T, path string) *x509.Certificate {
	t.Helper()
	c := firstPEM(mustRead(t, path))
	if c == nil {
		t.Fatalf("%s holds no certificate", path)
	}
	return c
}

// firstPEM parses the first PEM certificate of data, nil if none.
func firstPEM(data []byte) *x509.Certificate {
	b, _ := pem.Decode(data)
	if b == nil {
		return nil
	}
	c, err := x509.ParseCertificate(b.Bytes)
	if err != nil {
		return nil
	}
	return c
}
