//go:build linux

package enrollment

import (
	"bufio"
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/asn1"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/kiwistack/endpoint/enroll/enrolljson"
	"github.com/kiwistack/endpoint/enroll/protocol"
	"github.com/kiwistack/endpoint/internal/syncbuf"
	"github.com/kiwistack/endpoint/platform/hwid"
	"github.com/kiwistack/endpoint/test/pcsctest"
	"go.yaml.in/yaml/v3"
)

// binDir holds the binaries built once for the suite.
var binDir string

func TestMain(m *testing.M) {
	os.Exit(func() int {
		dir, err := os.MkdirTemp("", "kiwistack-e2e-bin")
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		defer os.RemoveAll(dir)
		cmd := exec.Command("go", "build", "-o", dir+"/", "github.com/kiwistack/endpoint/cmd/kiwistack-api", "github.com/kiwistack/endpoint/cmd/kiwistack-enroll")
		cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
		if err := cmd.Run(); err != nil {
			fmt.Fprintln(os.Stderr, "building the binaries:", err)
			return 1
		}
		binDir = dir
		return m.Run()
	}())
}

// tenant is a running `kiwistack-api dev`.
type tenant struct {
	state, apiURL, fingerprint, rootFile string
	pid                                  int
	stop                                 func()
}

// startTenant runs `kiwistack-api dev` on a free port until the test ends
// and reads the URL and fingerprint it prints.
func startTenant(t testing.TB, attestationRoot string) *tenant {
	t.Helper()
	state := filepath.Join(t.TempDir(), "tenant")
	ctx, cancel := context.WithCancel(context.Background())
	cmd := exec.CommandContext(ctx, filepath.Join(binDir, "kiwistack-api"), "dev", "--state", state, "--tenant", "acme-corp",
		"--listen", "127.0.0.1:0", "--attestation-root", attestationRoot, "--log-format", "json")
	cmd.Cancel = func() error { return cmd.Process.Signal(os.Interrupt) }
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var logs syncbuf.Buffer
	cmd.Stderr = &logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var once sync.Once
	stop := func() {
		once.Do(func() {
			cancel()
			_ = cmd.Wait()
		})
	}
	t.Cleanup(func() {
		stop()
		if t.Failed() {
			t.Logf("kiwistack-api dev log:\n%s", logs.String())
		}
	})
	tn := &tenant{state: state, pid: cmd.Process.Pid, stop: stop}
	found := make(chan struct{})
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			line := sc.Text()
			if v, ok := strings.CutPrefix(strings.TrimSpace(line), "API URL:"); ok {
				tn.apiURL = strings.TrimSpace(v)
			}
			if v, ok := strings.CutPrefix(strings.TrimSpace(line), "Root fingerprint:"); ok {
				tn.fingerprint = strings.TrimSpace(v)
			}
			if v, ok := strings.CutPrefix(strings.TrimSpace(line), "Root certificate:"); ok {
				tn.rootFile = strings.TrimSpace(v)
				close(found)
			}
		}
	}()
	select {
	case <-found:
	case <-time.After(60 * time.Second):
		t.Fatalf("kiwistack-api dev did not print its URLs within 60 s; log:\n%s", logs.String())
	}
	return tn
}

// run runs a binary and returns its output and exit code.
func run(t testing.TB, stdin string, bin string, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	cmd := exec.Command(filepath.Join(binDir, bin), args...)
	cmd.Stdin = strings.NewReader(stdin)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	if ee, ok := err.(*exec.ExitError); ok {
		return out.String(), errb.String(), ee.ExitCode()
	}
	if err != nil {
		t.Fatalf("running %s: %v", bin, err)
	}
	return out.String(), errb.String(), 0
}

func mustRun(t testing.TB, stdin, bin string, args ...string) string {
	t.Helper()
	out, errOut, code := run(t, stdin, bin, args...)
	if code != 0 {
		t.Fatalf("%s %s: exit %d\nstdout:\n%s\nstderr:\n%s", bin, strings.Join(args, " "), code, out, errOut)
	}
	return out
}

// provisioned is an admin YubiKey provisioned through the tenant API and
// added to its roster.
type provisioned struct {
	key *pcsctest.Key
	pin string
}

func provision(t testing.TB, tn *tenant, vk *pcsctest.Key, attRoot, role string) provisioned {
	t.Helper()
	dir := t.TempDir()
	secrets, roster := filepath.Join(dir, "secrets.yaml"), filepath.Join(dir, "roster.yaml")
	mustRun(t, "", "kiwistack-enroll", "keys", "provision", "--serial", fmt.Sprint(vk.Serial), "--factory-defaults",
		"--admin", "John Doe", "--role", role, "--tenant", "acme-corp",
		"--api", tn.apiURL, "--root-fingerprint", tn.fingerprint,
		"--provisioning-token-file", filepath.Join(tn.state, "provisioning.token"),
		"--secrets-out", secrets, "--roster-out", roster, "--attestation-root", attRoot, "--reader", vk.Reader)
	mustRun(t, "", "kiwistack-api", "roster", "add", "--state", tn.state, roster)
	b, err := os.ReadFile(secrets)
	if err != nil {
		t.Fatal(err)
	}
	var s struct {
		PIN string `yaml:"pin"`
	}
	if err := yaml.Unmarshal(b, &s); err != nil || s.PIN == "" {
		t.Fatalf("secrets file: %v", err)
	}
	return provisioned{key: vk, pin: s.PIN}
}

func writeAttestationRoot(t testing.TB, vk *pcsctest.Key) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "attestation-root.pem")
	if err := os.WriteFile(p, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: vk.Root.Raw}), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// enrollArgs are the arguments of one enrollment into sandbox.
func enrollArgs(tn *tenant, p provisioned, sandbox string, extra ...string) []string {
	args := []string{"enroll", "--api", tn.apiURL, "--tenant", "acme-corp", "--root-fingerprint", tn.fingerprint,
		"--root", sandbox, "--pin-stdin", "--reader", p.key.Reader, "--json"}
	if _, err := hwid.Read(context.Background()); err != nil {
		// No readable machine identity here (a container without DMI and
		// machine-id): the override is what an operator would pass.
		args = append(args, "--hardware-fingerprint", "hw1:"+strings.Repeat("e2", 32))
	}
	return append(args, extra...)
}

// stepProvisionerOID is step-ca's certificate extension naming the
// provisioner that authorised the certificate.
var stepProvisionerOID = asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 37476, 9000, 64, 1}

func TestEnrollEndToEnd(t *testing.T) {
	pcsctest.Require(t)
	vk := pcsctest.Start(t, pcsctest.Options{Version: "5.7.1"})
	attRoot := writeAttestationRoot(t, vk)
	tn := startTenant(t, attRoot)
	admin := provision(t, tn, vk, attRoot, "sysadmin")

	sandbox := t.TempDir()
	out, errOut, code := run(t, admin.pin+"\n", "kiwistack-enroll", enrollArgs(tn, admin, sandbox)...)
	if code != 0 {
		t.Fatalf("enroll: exit %d\n%s\n%s", code, out, errOut)
	}
	var res enrolljson.Result
	if err := json.Unmarshal([]byte(out), &res); err != nil {
		t.Fatalf("--json output: %v\n%s", err, out)
	}
	if res.Schema != enrolljson.Schema || res.Tenant != "acme-corp" || !regexp.MustCompile(`^d-[0-9a-f]{32}$`).MatchString(res.DeviceID) {
		t.Errorf("result %+v", res)
	}
	if len(res.Steps) != 7 {
		t.Fatalf("%d steps, want the seven of seed D3: %+v", len(res.Steps), res.Steps)
	}
	for i, s := range res.Steps {
		if s.Number != i+1 || s.Title == "" || s.Millis < 0 {
			t.Errorf("step %d: %+v", i+1, s)
		}
		if !strings.Contains(errOut, fmt.Sprintf("[%d/7] %s", i+1, s.Title)) {
			t.Errorf("progress does not show step %d %q:\n%s", i+1, s.Title, errOut)
		}
	}

	// The certificate: issued by step-ca under the tenant root, for 24 h,
	// naming the device, for the key installed beside it.
	rootPEM, err := os.ReadFile(res.Files.Root)
	if err != nil {
		t.Fatal(err)
	}
	rootBlock, _ := pem.Decode(rootPEM)
	sum := sha256.Sum256(rootBlock.Bytes)
	if hex.EncodeToString(sum[:]) != tn.fingerprint {
		t.Errorf("installed root is not the tenant root")
	}
	tenantRoot, err := os.ReadFile(tn.rootFile)
	if err != nil || !bytes.Equal(tenantRoot, rootPEM) {
		t.Errorf("installed root differs from the tenant's %s (%v)", tn.rootFile, err)
	}
	chain := readCerts(t, res.Files.Certificate)
	leaf := chain[0]
	roots := x509.NewCertPool()
	roots.AppendCertsFromPEM(rootPEM)
	inter := x509.NewCertPool()
	for _, c := range chain[1:] {
		inter.AddCert(c)
	}
	if _, err := leaf.Verify(x509.VerifyOptions{Roots: roots, Intermediates: inter, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}); err != nil {
		t.Errorf("device certificate does not verify against the tenant root: %v", err)
	}
	if got := leaf.NotAfter.Sub(leaf.NotBefore); got != 24*time.Hour+time.Minute {
		t.Errorf("validity %s, want 24 h (plus step-ca's 1 min backdate)", got)
	}
	wgURI, err := protocol.WireGuardURI(res.WireGuardPublicKey)
	if err != nil {
		t.Fatal(err)
	}
	if leaf.Subject.CommonName != res.DeviceID || len(leaf.URIs) != 2 || leaf.URIs[0].String() != "urn:kiwistack:device:acme-corp:"+res.DeviceID ||
		leaf.URIs[1].String() != wgURI {
		t.Errorf("certificate names %s / %v, want %s and its WireGuard key %s", leaf.Subject, leaf.URIs, res.DeviceID, wgURI)
	}
	issuedByStep := false
	for _, e := range leaf.Extensions {
		if e.Id.Equal(stepProvisionerOID) {
			issuedByStep = true
		}
	}
	if !issuedByStep {
		t.Error("the certificate lacks step-ca's provisioner extension: not issued by step-ca")
	}
	fi, err := os.Stat(res.Files.Key)
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("device key %s: %v, mode %v, want 0600", res.Files.Key, err, fi.Mode())
	}
	keyPEM, _ := os.ReadFile(res.Files.Key)
	kb, _ := pem.Decode(keyPEM)
	key, err := x509.ParsePKCS8PrivateKey(kb.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	if !key.(*ecdsa.PrivateKey).PublicKey.Equal(leaf.PublicKey) {
		t.Error("installed key does not match the certificate")
	}

	// The same laptop again: refused locally without --reenroll, before
	// anything is asked of the person.
	_, errOut, code = run(t, admin.pin+"\n", "kiwistack-enroll", enrollArgs(tn, admin, sandbox)...)
	if code == 0 || !strings.Contains(errOut, "already enrolled as "+res.DeviceID) {
		t.Errorf("second enrollment: exit %d\n%s", code, errOut)
	}
	// With --reenroll but without an administrator's allowance: the API
	// refuses (409 device_exists) and the laptop keeps its enrollment.
	_, errOut, code = run(t, admin.pin+"\n", "kiwistack-enroll", enrollArgs(tn, admin, sandbox, "--reenroll")...)
	if code != 4 || !strings.Contains(errOut, "allow") {
		t.Errorf("re-enrollment without allowance: exit %d, want 4\n%s", code, errOut)
	}
	if again := readCerts(t, res.Files.Certificate); !again[0].Equal(leaf) {
		t.Error("a refused re-enrollment replaced the certificate")
	}
	// Allowed: a new device key, id and certificate replace the old ones.
	mustRun(t, "", "kiwistack-api", "devices", "allow-reenroll", "--state", tn.state, res.DeviceID)
	out = mustRun(t, admin.pin+"\n", "kiwistack-enroll", enrollArgs(tn, admin, sandbox, "--reenroll")...)
	var res2 enrolljson.Result
	if err := json.Unmarshal([]byte(out), &res2); err != nil {
		t.Fatal(err)
	}
	if res2.DeviceID == res.DeviceID {
		t.Error("re-enrollment kept the device id; a new key must be a new device")
	}
	if now := readCerts(t, res.Files.Certificate); now[0].Equal(leaf) {
		t.Error("re-enrollment left the old certificate")
	}
}

func TestEnrollRefusesWrongPINAndForeignTenant(t *testing.T) {
	pcsctest.Require(t)
	vk := pcsctest.Start(t, pcsctest.Options{Version: "5.7.1"})
	attRoot := writeAttestationRoot(t, vk)
	tn := startTenant(t, attRoot)
	admin := provision(t, tn, vk, attRoot, "sysadmin")
	sandbox := t.TempDir()

	_, errOut, code := run(t, "99999999\n", "kiwistack-enroll", enrollArgs(tn, admin, sandbox)...)
	if code != 4 || !strings.Contains(errOut, "wrong PIN") {
		t.Errorf("wrong PIN: exit %d, want 4\n%s", code, errOut)
	}
	args := enrollArgs(tn, admin, sandbox)
	for i, a := range args {
		if a == "acme-corp" {
			args[i] = "globex"
		}
	}
	_, errOut, code = run(t, admin.pin+"\n", "kiwistack-enroll", args...)
	if code == 0 || !strings.Contains(errOut, "not tenant globex") {
		t.Errorf("foreign tenant: exit %d\n%s", code, errOut)
	}
	_, errOut, code = run(t, admin.pin+"\n", "kiwistack-enroll", append(enrollArgs(tn, admin, sandbox)[:0:0],
		"enroll", "--api", tn.apiURL, "--tenant", "acme-corp", "--root-fingerprint", strings.Repeat("00", 32),
		"--root", sandbox, "--pin-stdin", "--reader", admin.key.Reader, "--hardware-fingerprint", "hw1:"+strings.Repeat("ab", 32))...)
	if code == 0 || !strings.Contains(strings.ToLower(errOut), "fingerprint") {
		t.Errorf("wrong root fingerprint: exit %d\n%s", code, errOut)
	}
	entries, err := os.ReadDir(sandbox)
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 0 {
		t.Errorf("failed enrollments wrote into the sandbox: %v", entries)
	}
}

func readCerts(t *testing.T, path string) []*x509.Certificate {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var out []*x509.Certificate
	for {
		var blk *pem.Block
		blk, b = pem.Decode(b)
		if blk == nil {
			break
		}
		c, err := x509.ParseCertificate(blk.Bytes)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, c)
	}
	if len(out) == 0 {
		t.Fatalf("%s holds no certificate", path)
	}
	return out
}
