//go:build linux

package operations

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
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

	"github.com/kiwistack/endpoint/enroll/adminjson"
	"github.com/kiwistack/endpoint/enroll/enrolljson"
	"github.com/kiwistack/endpoint/internal/syncbuf"
	"github.com/kiwistack/endpoint/platform/hwid"
	"github.com/kiwistack/endpoint/test/pcsctest"
)

// binDir holds the binaries built once for the suite.
var binDir string

func TestMain(m *testing.M) {
	os.Exit(func() int {
		dir, err := os.MkdirTemp("", "kiwistack-ops-bin")
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
	state, apiURL, fingerprint string
}

func startTenant(t *testing.T, attestationRoot string) *tenant {
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
	t.Cleanup(func() {
		once.Do(func() { cancel(); _ = cmd.Wait() })
		if t.Failed() {
			t.Logf("kiwistack-api dev log:\n%s", logs.String())
		}
	})
	tn := &tenant{state: state}
	found := make(chan struct{})
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			line := strings.TrimSpace(sc.Text())
			if v, ok := strings.CutPrefix(line, "API URL:"); ok {
				tn.apiURL = strings.TrimSpace(v)
			}
			if v, ok := strings.CutPrefix(line, "Root fingerprint:"); ok {
				tn.fingerprint = strings.TrimSpace(v)
			}
			if strings.HasPrefix(line, "Root certificate:") {
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

func run(t *testing.T, stdin, bin string, args ...string) (string, string, int) {
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

func mustRun(t *testing.T, stdin, bin string, args ...string) string {
	t.Helper()
	out, errOut, code := run(t, stdin, bin, args...)
	if code != 0 {
		t.Fatalf("%s %s: exit %d\nstdout:\n%s\nstderr:\n%s", bin, strings.Join(args, " "), code, out, errOut)
	}
	return out
}

// admin is a virtual YubiKey provisioned for a role and in the roster.
type admin struct {
	key *pcsctest.Key
	pin string
}

func provision(t *testing.T, tn *tenant, vk *pcsctest.Key, attRoot, name, role string) admin {
	t.Helper()
	dir := t.TempDir()
	secrets, roster := filepath.Join(dir, "secrets.yaml"), filepath.Join(dir, "roster.yaml")
	mustRun(t, "", "kiwistack-enroll", "keys", "provision", "--serial", fmt.Sprint(vk.Serial), "--factory-defaults",
		"--admin", name, "--role", role, "--tenant", "acme-corp", "--api", tn.apiURL, "--root-fingerprint", tn.fingerprint,
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
	return admin{key: vk, pin: s.PIN}
}

func (tn *tenant) adminArgs(verb string, extra ...string) []string {
	return append([]string{"admin", verb, "--api", tn.apiURL, "--tenant", "acme-corp", "--root-fingerprint", tn.fingerprint, "--json"}, extra...)
}

// sign has a's virtual YubiKey approve operation id (PIN from stdin).
func (tn *tenant) sign(t *testing.T, a admin, verb, id string) adminjson.Operation {
	t.Helper()
	out, errOut, code := run(t, a.pin+"\n", "kiwistack-enroll", tn.adminArgs(verb, "--pin-stdin", "--reader", a.key.Reader, id)...)
	if code != 0 {
		t.Fatalf("admin %s %s: exit %d\n%s\n%s", verb, id, code, out, errOut)
	}
	if !strings.Contains(errOut, "You are about to") {
		t.Errorf("the operation was not shown before the PIN prompt:\n%s", errOut)
	}
	var op adminjson.Operation
	if err := json.Unmarshal([]byte(out), &op); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	return op
}

func (tn *tenant) request(t *testing.T, op string, params ...string) adminjson.Operation {
	t.Helper()
	args := []string{op}
	for _, p := range params {
		args = append(args, "--param", p)
	}
	var res adminjson.Operation
	if err := json.Unmarshal([]byte(mustRun(t, "", "kiwistack-enroll", tn.adminArgs("request", args...)...)), &res); err != nil {
		t.Fatal(err)
	}
	return res
}

// TestOperationsEndToEnd needs VIRTUAL YUBIKEYS (pcscd + vpcd, root); it
// was written while the readers were busy and has only been vetted, not
// run. A sysadmin enrolls a laptop; the founder signs its remote_lock;
// remove_admin of the only founder is refused (lockout); burn_key of the
// sysadmin's key applies and its next signature is refused (seed D4
// scenario 01, in part); `admin audit --verify` verifies the chain.
func TestOperationsEndToEnd(t *testing.T) {
	pcsctest.Require(t)
	fk := pcsctest.Start(t, pcsctest.Options{Version: "5.7.1"})
	sk := pcsctest.Start(t, pcsctest.Options{Version: "5.7.1"})
	attRoot := filepath.Join(t.TempDir(), "attestation-root.pem")
	root, _ := pcsctest.AttestationRoot(t)
	if err := os.WriteFile(attRoot, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: root.Raw}), 0o644); err != nil {
		t.Fatal(err)
	}
	tn := startTenant(t, attRoot)
	founder := provision(t, tn, fk, attRoot, "Fiona Founder", "founder")
	sysadmin := provision(t, tn, sk, attRoot, "Sam Sysadmin", "sysadmin")

	// A laptop enrolled by the sysadmin.
	args := []string{"enroll", "--api", tn.apiURL, "--tenant", "acme-corp", "--root-fingerprint", tn.fingerprint,
		"--root", t.TempDir(), "--pin-stdin", "--reader", sysadmin.key.Reader, "--json"}
	if _, err := hwid.Read(context.Background()); err != nil {
		args = append(args, "--hardware-fingerprint", "hw1:"+strings.Repeat("e3", 32))
	}
	var enrolled enrolljson.Result
	if err := json.Unmarshal([]byte(mustRun(t, sysadmin.pin+"\n", "kiwistack-enroll", args...)), &enrolled); err != nil {
		t.Fatal(err)
	}

	lock := tn.request(t, "remote_lock", "device_id="+enrolled.DeviceID, "reason=e2e")
	if got := tn.sign(t, founder, "sign", lock.Operation.ID); got.Operation.State != "applied" {
		t.Fatalf("remote_lock: %+v", got.Operation)
	}

	// Removing the only founder is refused before anyone signs (lockout).
	out, errOut, code := run(t, "", "kiwistack-enroll", tn.adminArgs("request", "remove_admin", "--param", fmt.Sprintf("serial=%d", founder.key.Serial))...)
	if code != 4 || !strings.Contains(errOut, "lockout") {
		t.Errorf("remove_admin of the only founder: exit %d\n%s\n%s", code, out, errOut)
	}

	// burn_key of the sysadmin's key is never refused; the key signs nothing after it.
	burnTarget := tn.request(t, "burn_key", fmt.Sprintf("serial=%d", sysadmin.key.Serial))
	if got := tn.sign(t, founder, "sign", burnTarget.Operation.ID); got.Operation.State != "applied" || len(got.Operation.Lockouts) == 0 {
		t.Fatalf("burn_key: %+v", got.Operation)
	}
	_, errOut, code = run(t, sysadmin.pin+"\n", "kiwistack-enroll", tn.adminArgs("sign", "--pin-stdin", "--reader", sysadmin.key.Reader, lock.Operation.ID)...)
	if code == 0 {
		t.Errorf("signing with a burned key succeeded: %s", errOut)
	}

	out = mustRun(t, "", "kiwistack-enroll", tn.adminArgs("audit", "--verify")...)
	var audit adminjson.Audit
	if err := json.Unmarshal([]byte(out), &audit); err != nil || !audit.Verified {
		t.Fatalf("audit --verify: %v %s", err, out)
	}
}
