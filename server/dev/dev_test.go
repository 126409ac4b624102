package dev

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/kiwistack/endpoint/enroll/protocol"
	"github.com/kiwistack/endpoint/internal/syncbuf"
	"github.com/kiwistack/endpoint/server/policy"
)

// start runs Run in a goroutine and returns its Info and a stop function
// that cancels it and waits for a nil return.
func start(t *testing.T, dir string) (Info, string, func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	ready := make(chan Info, 1)
	done := make(chan error, 1)
	out := &syncbuf.Buffer{}
	go func() {
		done <- Run(ctx, Options{StateDir: dir, Tenant: "acme-corp", Listen: "127.0.0.1:0", Out: out, Ready: func(i Info) { ready <- i }})
	}()
	var info Info
	select {
	case info = <-ready:
	case err := <-done:
		cancel()
		t.Fatalf("Run returned before ready: %v", err)
	case <-time.After(30 * time.Second):
		cancel()
		t.Fatal("Run not ready after 30s")
	}
	stop := func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("Run: %v", err)
			}
		case <-time.After(10 * time.Second):
			t.Error("Run did not return after cancel")
		}
	}
	return info, out.String(), stop
}

// client trusts only the root file named in info, after checking that its
// fingerprint is the printed one.
func client(t *testing.T, info Info) *http.Client {
	t.Helper()
	data, err := os.ReadFile(info.RootFile)
	if err != nil {
		t.Fatal(err)
	}
	block, _ := pem.Decode(data)
	if block == nil {
		t.Fatal("no PEM root")
	}
	sum := sha256.Sum256(block.Bytes)
	if got := hex.EncodeToString(sum[:]); got != info.RootFingerprint {
		t.Fatalf("root file fingerprint %s, printed %s", got, info.RootFingerprint)
	}
	root, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(root)
	return &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
}

func get(t *testing.T, c *http.Client, url string) (int, string) {
	t.Helper()
	resp, err := c.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func TestRunServesAPIAndCAAndRestarts(t *testing.T) {
	dir := t.TempDir()
	info, out, stop := start(t, dir)
	for _, want := range []string{"API URL:          " + info.APIURL, "Root fingerprint: " + info.RootFingerprint,
		"kiwistack-api roster add --state " + dir + " roster.yaml", "kiwistack-enroll keys provision"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	if !strings.HasPrefix(info.APIURL, "https://127.0.0.1:") || info.CAURL != info.APIURL {
		t.Errorf("urls = %q, %q", info.APIURL, info.CAURL)
	}
	c := client(t, info)
	if code, body := get(t, c, info.APIURL+"/healthz"); code != http.StatusOK || !strings.Contains(body, `"ok"`) {
		t.Errorf("/healthz = %d %s", code, body)
	}
	if code, body := get(t, c, info.APIURL+"/readyz"); code != http.StatusOK {
		t.Errorf("/readyz = %d %s", code, body)
	}
	body, _ := json.Marshal(protocol.ChallengeRequest{Operation: protocol.OpEnrollDevice, Tenant: "acme-corp", Params: map[string]string{
		protocol.ParamHardwareFingerprint: "hw-dev-test",
		protocol.ParamDeviceKeySHA256:     strings.Repeat("ab", 32),
		protocol.ParamWireGuardPublicKey:  "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=",
	}})
	resp, err := c.Post(info.APIURL+"/v1/challenges", "application/json", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	var ch protocol.Challenge
	if err := json.NewDecoder(resp.Body).Decode(&ch); err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusCreated || ch.Nonce == "" || ch.Tenant != "acme-corp" {
		t.Errorf("challenge = %d %+v", resp.StatusCode, ch)
	}
	if code, body := get(t, c, info.CAURL+"/health"); code != http.StatusOK || !strings.Contains(body, "ok") {
		t.Errorf("step-ca /health = %d %s", code, body)
	}
	// step-ca answers /roots with 201 Created, as a standalone step-ca does.
	code, rootsBody := get(t, c, info.CAURL+"/roots")
	var roots struct {
		Crts []string `json:"crts"`
	}
	rootPEM, _ := os.ReadFile(info.RootFile)
	if err := json.Unmarshal([]byte(rootsBody), &roots); err != nil || code/100 != 2 || len(roots.Crts) != 1 || roots.Crts[0] != string(rootPEM) {
		t.Errorf("step-ca /roots = %d %s (%v)", code, rootsBody, err)
	}
	st, err := os.Stat(filepath.Join(dir, TLSKeyFile))
	if err != nil || st.Mode().Perm() != 0o600 {
		t.Errorf("tls key: %v %v", st.Mode(), err)
	}
	certBefore, err := os.ReadFile(filepath.Join(dir, TLSCertFile))
	if err != nil {
		t.Fatal(err)
	}
	stop()

	again, _, stop2 := start(t, dir)
	defer stop2()
	if again.RootFingerprint != info.RootFingerprint {
		t.Errorf("fingerprint after restart %s, was %s", again.RootFingerprint, info.RootFingerprint)
	}
	certAfter, err := os.ReadFile(filepath.Join(dir, TLSCertFile))
	if err != nil || !bytes.Equal(certBefore, certAfter) {
		t.Errorf("tls certificate reissued on restart (%v)", err)
	}
	if code, body := get(t, client(t, again), again.APIURL+"/healthz"); code != http.StatusOK {
		t.Errorf("/healthz after restart = %d %s", code, body)
	}
}

func TestHostNames(t *testing.T) {
	tests := []struct {
		listen string
		want   string
	}{
		{"127.0.0.1:8443", "localhost,127.0.0.1"},
		{"0.0.0.0:8443", "localhost,127.0.0.1"},
		{":8443", "localhost,127.0.0.1"},
		{"api.example.test:8443", "localhost,127.0.0.1,api.example.test"},
		{"[::1]:8443", "localhost,127.0.0.1,::1"},
	}
	for _, tt := range tests {
		if got := strings.Join(hostNames(tt.listen), ","); got != tt.want {
			t.Errorf("hostNames(%q) = %s, want %s", tt.listen, got, tt.want)
		}
	}
}

func TestRunRequiresStateAndTenant(t *testing.T) {
	if err := Run(context.Background(), Options{Tenant: "acme-corp"}); err == nil {
		t.Error("Run without a state directory succeeded")
	}
}

func TestRunServesMetrics(t *testing.T) {
	info, _, stop := start(t, t.TempDir())
	defer stop()
	c := client(t, info)
	if code, _ := get(t, c, info.APIURL+"/healthz"); code != http.StatusOK {
		t.Fatalf("/healthz: %d", code)
	}
	code, body := get(t, c, info.APIURL+"/metrics")
	if code != http.StatusOK {
		t.Fatalf("/metrics: %d %s", code, body)
	}
	for _, want := range []string{
		`kiwistack_api_http_requests_total{code="200",method="GET",route="GET /healthz"} 1`,
		`kiwistack_api_enrollments_total{reason="device_exists",result="rejected"} 0`,
		"go_goroutines ",
	} {
		if !strings.Contains(body, want) {
			t.Errorf("/metrics lacks %q", want)
		}
	}
}

func TestRunAppliesPolicyFile(t *testing.T) {
	dir := t.TempDir()
	pol := filepath.Join(dir, "authorization.yaml")
	var b bytes.Buffer
	if err := policy.WriteDefault(&b, "acme-corp"); err != nil {
		t.Fatal(err)
	}
	// A policy whose enroll_device needs a founder: the challenge says so.
	p, err := policy.Parse(b.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	op := p.Operations["enroll_device"]
	op.Role = "founder"
	p.Operations["enroll_device"] = op
	out, err := policy.Marshal(p)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(pol, out, 0o644); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	ready := make(chan Info, 1)
	done := make(chan error, 1)
	go func() {
		done <- Run(ctx, Options{StateDir: filepath.Join(dir, "state"), Tenant: "acme-corp", Listen: "127.0.0.1:0", PolicyFile: pol,
			Ready: func(i Info) { ready <- i }})
	}()
	var info Info
	select {
	case info = <-ready:
	case err := <-done:
		t.Fatalf("Run: %v", err)
	case <-time.After(30 * time.Second):
		t.Fatal("not ready")
	}
	c := client(t, info)
	body := `{"operation":"enroll_device","tenant":"acme-corp","params":{"hardware_fingerprint":"hw1:x","device_key_sha256":"` +
		strings.Repeat("ab", 32) + `","wireguard_public_key":"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="}}`
	resp, err := c.Post(info.APIURL+"/v1/challenges", "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var ch protocol.Challenge
	if err := json.NewDecoder(resp.Body).Decode(&ch); err != nil || len(ch.RequiredRoles) != 1 || ch.RequiredRoles[0] != "founder" {
		t.Errorf("challenge under a founder policy: %v %+v", err, ch)
	}
	cancel()
	<-done

	// A broken policy file stops the server with the line to fix.
	if err := os.WriteFile(pol, []byte("roles: [founder]\nbogus: 1\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	err = Run(context.Background(), Options{StateDir: filepath.Join(dir, "state"), Tenant: "acme-corp", Listen: "127.0.0.1:0", PolicyFile: pol})
	if err == nil || !strings.Contains(err.Error(), pol+":2:") {
		t.Errorf("broken policy: %v", err)
	}
}
