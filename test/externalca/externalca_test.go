package externalca

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"go.step.sm/crypto/jose"

	"github.com/kiwistack/endpoint/enroll/install"
	"github.com/kiwistack/endpoint/enroll/protocol"
	"github.com/kiwistack/endpoint/internal/syncbuf"
	"github.com/kiwistack/endpoint/server/ca"
	"github.com/kiwistack/endpoint/server/serve"
	"github.com/kiwistack/endpoint/server/store"
	"github.com/kiwistack/endpoint/test/e2e"
)

const tenant = "acme"

// stepCA returns the path of a step-ca binary: $KIWISTACK_STEP_CA, or one
// built from the version go.mod pins, in a scratch module that copies this
// module's go.mod and go.sum (so that the repository's go.mod and go.sum
// stay as they are: step-ca's KMS dependencies are not in them).
func stepCA(t *testing.T) string {
	t.Helper()
	if p := os.Getenv("KIWISTACK_STEP_CA"); p != "" {
		return p
	}
	gomod, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil {
		t.Fatalf("go env GOMOD: %v", err)
	}
	root := filepath.Dir(strings.TrimSpace(string(gomod)))
	scratch := t.TempDir()
	mod, err := os.ReadFile(filepath.Join(root, "go.mod"))
	if err != nil {
		t.Fatal(err)
	}
	mod = bytes.Replace(mod, []byte("module github.com/kiwistack/endpoint"), []byte("module stepcabuild"), 1)
	sum, err := os.ReadFile(filepath.Join(root, "go.sum"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(scratch, "go.mod"), mod, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(scratch, "go.sum"), sum, 0o644); err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(scratch, "step-ca")
	cmd := exec.Command("go", "build", "-mod=mod", "-o", bin, "github.com/smallstep/certificates/cmd/step-ca")
	cmd.Dir = scratch
	cmd.Env = append(os.Environ(), "GOFLAGS=-mod=mod", "GOWORK=off")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("building step-ca (set KIWISTACK_STEP_CA to a step-ca binary of the same version instead): %v\n%s", err, out)
	}
	return bin
}

func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

func writeFile(t *testing.T, path string, data []byte, mode os.FileMode) string {
	t.Helper()
	if err := os.WriteFile(path, data, mode); err != nil {
		t.Fatal(err)
	}
	return path
}

// startStepCA writes ca.json for pki with the provisioners server/serve
// prints and starts step-ca; it returns step-ca's URL and a stop function.
func startStepCA(t *testing.T, pkiDir string, pki *ca.PKI) (string, func()) {
	t.Helper()
	bin := stepCA(t)
	dir := t.TempDir()
	provs, err := serve.ProvisionersJSON(tenant, pki.ProvisionerKey, pki.AdminProvisionerKey, ca.DefaultRenewalGrace)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(provs, []byte(`"d"`)) {
		t.Fatal("the provisioners' JSON holds a private key")
	}
	port := freePort(t)
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	cfg := map[string]any{
		"root":     filepath.Join(pkiDir, ca.RootCertFile),
		"crt":      filepath.Join(pkiDir, ca.IntermediateCertFile),
		"key":      filepath.Join(pkiDir, ca.IntermediateKeyFile),
		"address":  addr,
		"dnsNames": []string{"127.0.0.1", "localhost"},
		"logger":   map[string]string{"format": "text"},
		"db":       map[string]string{"type": "bbolt", "dataSource": filepath.Join(dir, "db")},
		"authority": map[string]any{
			"provisioners": json.RawMessage(provs),
			"backdate":     "1m",
		},
		"tls": map[string]any{"minVersion": 1.2, "maxVersion": 1.3, "renegotiation": false},
	}
	b, err := json.MarshalIndent(cfg, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	caJSON := writeFile(t, filepath.Join(dir, "ca.json"), b, 0o600)
	var out syncbuf.Buffer
	cmd := exec.Command(bin, caJSON)
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var once sync.Once
	stop := func() {
		once.Do(func() {
			_ = cmd.Process.Kill()
			_ = cmd.Wait()
		})
	}
	t.Cleanup(func() {
		stop()
		if t.Failed() {
			t.Logf("step-ca output:\n%s", out.String())
		}
	})
	roots := x509.NewCertPool()
	roots.AddCert(pki.Root)
	client := &http.Client{Timeout: time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: roots}}}
	url := "https://" + addr
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := client.Get(url + "/health")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("step-ca did not become healthy: %v\n%s", err, out.String())
		}
		time.Sleep(100 * time.Millisecond)
	}
	return url, stop
}

func newKey(t *testing.T) *ecdsa.PrivateKey {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func csr(t *testing.T, key *ecdsa.PrivateKey) *x509.CertificateRequest {
	t.Helper()
	der, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{}, key)
	if err != nil {
		t.Fatal(err)
	}
	c, err := x509.ParseCertificateRequest(der)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// serverTLS writes a TLS server certificate for 127.0.0.1 issued by the
// tenant intermediate, and its key.
func serverTLS(t *testing.T, dir string, pki *ca.PKI) (certFile, keyFile string) {
	t.Helper()
	key := newKey(t)
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(time.Now().UnixNano()), Subject: pkix.Name{CommonName: "127.0.0.1"},
		NotBefore: time.Now().Add(-time.Minute), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")},
		KeyUsage:    x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, pki.Intermediate, &key.PublicKey, pki.IntermediateKey)
	if err != nil {
		t.Fatal(err)
	}
	leaf, _ := x509.ParseCertificate(der)
	kder, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	certFile = writeFile(t, filepath.Join(dir, "tls.crt"), ca.PEM(leaf, pki.Intermediate), 0o644)
	keyFile = writeFile(t, filepath.Join(dir, "tls.key"), pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kder}), 0o600)
	return certFile, keyFile
}

func TestServeAgainstExternalStepCA(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	pkiDir := t.TempDir()
	pki, err := ca.LoadOrCreatePKI(pkiDir, tenant, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	caURL, stopCA := startStepCA(t, pkiDir, pki)

	// The API's files: the device key encrypted (step's JWE) with a
	// password file, the admin key plain.
	dir := t.TempDir()
	jwe, err := jose.EncryptJWK(pki.ProvisionerKey, []byte("s3cret"))
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(dir, "devices.jwe"), []byte(jwe.FullSerialize()), 0o600)
	writeFile(t, filepath.Join(dir, "devices.pass"), []byte("s3cret\n"), 0o600)
	adminJWK, err := json.Marshal(pki.AdminProvisionerKey)
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(dir, "admins.json"), adminJWK, 0o600)
	serverTLS(t, dir, pki)
	configFile := writeFile(t, filepath.Join(dir, "serve.yaml"), fmt.Appendf(nil, `listen: 127.0.0.1:0
tenant: %s
database: data/api.db
api_url: https://api.acme.test
tls:
  cert_file: tls.crt
  key_file: tls.key
ca:
  url: %s
  root_fingerprint: %s
  device_provisioner:
    key_file: devices.jwe
    password_file: devices.pass
  admin_provisioner:
    key_file: admins.json
`, tenant, caURL, pki.Fingerprint()), 0o600)

	// An administrator whose slot 9a stand-in certificate comes from the
	// external step-ca, through the admin provisioner.
	remote, err := ca.DialRemote(ctx, ca.RemoteConfig{
		URL: caURL, RootFingerprint: pki.Fingerprint(), Tenant: tenant,
		Devices: ca.RemoteProvisioner{Name: ca.ProvisionerName, Key: pki.ProvisionerKey},
		Admins:  ca.RemoteProvisioner{Name: ca.AdminProvisionerName, Key: pki.AdminProvisionerKey},
	})
	if err != nil {
		t.Fatal(err)
	}
	defer remote.Close()
	adminKey := newKey(t)
	const adminSerial = 31337
	adminCert, _, err := remote.SignAdmin(ctx, ca.AdminRequest{CSR: csr(t, adminKey), Serial: adminSerial, Admin: "Ada", Role: "sysadmin"})
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(dir, "data"), 0o700); err != nil {
		t.Fatal(err)
	}
	st, err := store.Open(ctx, filepath.Join(dir, "data", "api.db"))
	if err != nil {
		t.Fatal(err)
	}
	spki := sha256.Sum256(adminCert.RawSubjectPublicKeyInfo)
	if err := st.AddRosterEntry(ctx, store.RosterEntry{Serial: adminSerial, Admin: "Ada", Role: "sysadmin", SPKISHA256: hex.EncodeToString(spki[:])}); err != nil {
		t.Fatal(err)
	}
	_ = st.Close()

	// kiwistack-api serve --config serve.yaml
	cfg, err := serve.LoadConfig(configFile)
	if err != nil {
		t.Fatal(err)
	}
	ready := make(chan serve.Info, 1)
	done := make(chan error, 1)
	go func() { done <- serve.Run(ctx, cfg, serve.Options{Ready: func(i serve.Info) { ready <- i }}) }()
	var info serve.Info
	select {
	case info = <-ready:
	case err := <-done:
		t.Fatalf("serve stopped: %v", err)
	case <-time.After(30 * time.Second):
		t.Fatal("serve did not start")
	}
	if info.RootFingerprint != pki.Fingerprint() || info.CAURL != caURL {
		t.Errorf("info %+v", info)
	}
	roots := x509.NewCertPool()
	roots.AddCert(pki.Root)
	client := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: roots}}}
	api := "https://" + info.Addr
	post := func(path string, v any) (int, []byte) {
		t.Helper()
		b, _ := json.Marshal(v)
		resp, err := client.Post(api+path, "application/json", bytes.NewReader(b))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var buf bytes.Buffer
		_, _ = buf.ReadFrom(resp.Body)
		return resp.StatusCode, buf.Bytes()
	}
	if code := getStatus(t, client, api+"/readyz"); code != http.StatusOK {
		t.Fatalf("/readyz: %d", code)
	}

	// The enrollment ceremony.
	ident, err := install.NewIdentity(rand.Reader, tenant)
	if err != nil {
		t.Fatal(err)
	}
	deviceKey := ident.Key
	params := map[string]string{
		protocol.ParamHardwareFingerprint: "hw-e2e-1",
		protocol.ParamDeviceKeySHA256:     ident.KeySHA256,
		protocol.ParamWireGuardPublicKey:  ident.WireGuard.PublicKey,
	}
	code, body := post("/v1/challenges", protocol.ChallengeRequest{Operation: protocol.OpEnrollDevice, Tenant: tenant, Params: params})
	if code != http.StatusCreated {
		t.Fatalf("challenge: %d %s", code, body)
	}
	var ch protocol.Challenge
	if err := json.Unmarshal(body, &ch); err != nil {
		t.Fatal(err)
	}
	stmt := protocol.Statement{
		Operation: protocol.OpEnrollDevice, Tenant: tenant, Timestamp: protocol.FormatTimestamp(time.Now()),
		YubiKeySerial: adminSerial, Nonce: ch.Nonce, Digest: ch.Digest,
		HardwareFingerprint: params[protocol.ParamHardwareFingerprint], DeviceKeySHA256: params[protocol.ParamDeviceKeySHA256],
		WireGuardPublicKey: params[protocol.ParamWireGuardPublicKey],
	}
	compact, err := protocol.Sign(ctx, protocol.SignerFrom(adminKey), []*x509.Certificate{adminCert}, &stmt)
	if err != nil {
		t.Fatal(err)
	}
	code, body = post("/v1/enrollments", protocol.EnrollRequest{Statement: compact, CSR: ident.CSR})
	if code != http.StatusCreated {
		t.Fatalf("enrollment: %d %s", code, body)
	}
	var er protocol.EnrollResponse
	if err := json.Unmarshal(body, &er); err != nil {
		t.Fatal(err)
	}
	blk, _ := pem.Decode([]byte(er.Certificate))
	if blk == nil {
		t.Fatalf("no certificate in %s", body)
	}
	leaf, err := x509.ParseCertificate(blk.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	inter := x509.NewCertPool()
	inter.AddCert(pki.Intermediate)
	if _, err := leaf.Verify(x509.VerifyOptions{Roots: roots, Intermediates: inter, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}); err != nil {
		t.Fatalf("device certificate does not verify against the root: %v", err)
	}
	wgURI, _ := protocol.WireGuardURI(ident.WireGuard.PublicKey)
	if len(leaf.URIs) != 2 || leaf.URIs[0].String() != ca.DeviceURI(tenant, er.DeviceID).String() || leaf.URIs[1].String() != wgURI {
		t.Errorf("URIs %v, want the device URI of %s and its WireGuard key's %s", leaf.URIs, er.DeviceID, wgURI)
	}
	if got := leaf.NotAfter.Sub(leaf.NotBefore); got != 24*time.Hour+ca.Backdate {
		t.Errorf("validity %s, want 24h plus backdate", got)
	}
	if !e2e.StepProvisioned(leaf) {
		t.Error("the certificate has no step provisioner extension: it was not issued by step-ca")
	}
	if er.Config.CAURL != caURL || er.Config.RootFingerprint != pki.Fingerprint() {
		t.Errorf("agent config %+v", er.Config)
	}

	// Renewal with mutual TLS works at step-ca, until the serial is revoked.
	if code, msg := renew(t, caURL, roots, leaf, deviceKey); code != http.StatusCreated {
		t.Fatalf("renewal before revocation: %d %s", code, msg)
	}
	if err := remote.Revoke(ctx, leaf.SerialNumber.String(), "e2e"); err != nil {
		t.Fatal(err)
	}
	if code, msg := renew(t, caURL, roots, leaf, deviceKey); code != http.StatusUnauthorized {
		t.Fatalf("renewal after revocation: %d %s, want 401", code, msg)
	}

	// /readyz follows step-ca.
	stopCA()
	if code := getStatus(t, client, api+"/readyz"); code != http.StatusServiceUnavailable {
		t.Errorf("/readyz with step-ca down: %d, want 503", code)
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("serve did not stop")
	}
}

func getStatus(t *testing.T, c *http.Client, url string) int {
	t.Helper()
	resp, err := c.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// renew posts step-ca's /1.0/renew with the device's certificate in the TLS
// handshake.
func renew(t *testing.T, caURL string, roots *x509.CertPool, leaf *x509.Certificate, key *ecdsa.PrivateKey) (int, string) {
	t.Helper()
	c := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{
		RootCAs:      roots,
		Certificates: []tls.Certificate{{Certificate: [][]byte{leaf.Raw}, PrivateKey: key, Leaf: leaf}},
	}}}
	resp, err := c.Post(caURL+"/1.0/renew", "application/json", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var buf bytes.Buffer
	_, _ = buf.ReadFrom(resp.Body)
	return resp.StatusCode, buf.String()
}
