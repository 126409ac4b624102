package e2e

import (
	"bufio"
	"context"
	"crypto/x509"
	"encoding/asn1"
	"encoding/pem"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/kiwistack/endpoint/internal/syncbuf"
	"github.com/kiwistack/endpoint/platform/hwid"
	"github.com/kiwistack/endpoint/test/pcsctest"
)

// TenantName is the tenant StartTenant runs.
const TenantName = "acme-corp"

// Tenant is a running `kiwistack-api dev`.
type Tenant struct {
	State       string // its --state directory
	APIURL      string // the API URL it printed
	Fingerprint string // the root fingerprint it printed
	RootFile    string // the root certificate file it printed
	PID         int    // its process id
	// Netns is the network namespace it listens in, "" for this one;
	// Provision runs the commands that reach its API there.
	Netns string
	// Stop interrupts it and waits for it to exit; the test's cleanup
	// calls it too, and later calls do nothing.
	Stop func()
}

// StartTenant runs `kiwistack-api dev` for TenantName on a free loopback
// port until the test ends, trusting the attestation root in the PEM file
// attestationRoot, and reads the URLs and fingerprint it prints. Its log is
// shown when the test fails.
func StartTenant(t testing.TB, attestationRoot string) *Tenant {
	t.Helper()
	state := filepath.Join(t.TempDir(), "tenant")
	ctx, cancel := context.WithCancel(context.Background())
	cmd := exec.CommandContext(ctx, Bin("kiwistack-api"), "dev", "--state", state, "--tenant", TenantName,
		"--listen", "127.0.0.1:0", "--attestation-root", attestationRoot, "--log-format", "json")
	cmd.Cancel = func() error { return cmd.Process.Signal(os.Interrupt) }
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	var logs syncbuf.Buffer
	cmd.Stderr = &logs
	if err := cmd.Start(); err != nil {
		cancel()
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
	tn := &Tenant{State: state, PID: cmd.Process.Pid, Stop: stop}
	found := make(chan struct{})
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			line := strings.TrimSpace(sc.Text())
			if v, ok := strings.CutPrefix(line, "API URL:"); ok {
				tn.APIURL = strings.TrimSpace(v)
			}
			if v, ok := strings.CutPrefix(line, "Root fingerprint:"); ok {
				tn.Fingerprint = strings.TrimSpace(v)
			}
			if v, ok := strings.CutPrefix(line, "Root certificate:"); ok {
				tn.RootFile = strings.TrimSpace(v)
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

// Admin is a virtual YubiKey provisioned for a role and in the roster.
type Admin struct {
	Key *pcsctest.Key
	PIN string
	// Secrets is the secrets file `keys provision` wrote (PIN, PUK,
	// management key), which `keys refresh` needs.
	Secrets string
}

// Provision provisions vk from factory defaults for the administrator name
// in role with `kiwistack-enroll keys provision` against tn, adds the roster
// entry it writes with `kiwistack-api roster add`, and returns the key with
// the PIN from its secrets file. attRoot is the attestation root's PEM file.
func Provision(t testing.TB, tn *Tenant, vk *pcsctest.Key, attRoot, name, role string) Admin {
	t.Helper()
	dir := t.TempDir()
	secrets, roster := filepath.Join(dir, "secrets.yaml"), filepath.Join(dir, "roster.yaml")
	MustRunIn(t, tn.Netns, "", "kiwistack-enroll", "keys", "provision", "--serial", fmt.Sprint(vk.Serial), "--factory-defaults",
		"--admin", name, "--role", role, "--tenant", TenantName, "--api", tn.APIURL, "--root-fingerprint", tn.Fingerprint,
		"--provisioning-token-file", filepath.Join(tn.State, "provisioning.token"),
		"--secrets-out", secrets, "--roster-out", roster, "--attestation-root", attRoot, "--reader", vk.Reader)
	MustRun(t, "", "kiwistack-api", "roster", "add", "--state", tn.State, roster)
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
	return Admin{Key: vk, PIN: s.PIN, Secrets: secrets}
}

// EnrollArgs are the arguments of `kiwistack-enroll enroll --json` into the
// sandbox root, approved by a's key with the PIN from stdin, followed by
// extra. Where this machine has no readable identity (a container without
// DMI and machine-id) they pass the hardware fingerprint an operator would.
func EnrollArgs(tn *Tenant, a Admin, root string, extra ...string) []string {
	args := []string{"enroll", "--api", tn.APIURL, "--tenant", TenantName, "--root-fingerprint", tn.Fingerprint,
		"--root", root, "--pin-stdin", "--reader", a.Key.Reader, "--json"}
	if _, err := hwid.Read(context.Background()); err != nil {
		args = append(args, "--hardware-fingerprint", "hw1:"+strings.Repeat("e2", 32))
	}
	return append(args, extra...)
}

// WriteAttestationRoot writes root to a PEM file in a temporary directory
// and returns its path, for --attestation-root.
func WriteAttestationRoot(t testing.TB, root *x509.Certificate) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "attestation-root.pem")
	if err := os.WriteFile(p, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: root.Raw}), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// ReadCerts reads the PEM certificates in path, failing the test when there
// is none or one does not parse.
func ReadCerts(t testing.TB, path string) []*x509.Certificate {
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

// stepProvisionerOID is step-ca's certificate extension naming the
// provisioner that authorised the certificate.
var stepProvisionerOID = asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 37476, 9000, 64, 1}

// StepProvisioned reports whether c carries step-ca's provisioner
// extension, that is whether step-ca issued it.
func StepProvisioned(c *x509.Certificate) bool {
	for _, e := range c.Extensions {
		if e.Id.Equal(stepProvisionerOID) {
			return true
		}
	}
	return false
}
