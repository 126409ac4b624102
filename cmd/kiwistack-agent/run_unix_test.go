//go:build unix

package main

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/kiwistack/endpoint/agent/status"
)

// TestRunStatusSIGTERM builds the agent as `make build` does (static),
// runs `run` in a temporary root, asks `status` (text and --json) over the
// socket, and stops it with SIGTERM: it exits 0 and removes its socket.
func TestRunStatusSIGTERM(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the agent")
	}
	bin := filepath.Join(t.TempDir(), "kiwistack-agent")
	build := exec.Command("go", "build", "-trimpath", "-o", bin, ".")
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	root := t.TempDir()
	run := exec.Command(bin, "run", "--root", root, "--log-level", "info")
	var logs strings.Builder
	run.Stderr = &logs
	if err := run.Start(); err != nil {
		t.Fatal(err)
	}
	defer run.Process.Kill()
	var out []byte
	var err error
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		out, err = exec.Command(bin, "status", "--root", root, "--json").Output()
		if err == nil || time.Now().After(deadline) {
			break
		}
	}
	if err != nil {
		t.Fatalf("status --json: %v\n%s", err, logs.String())
	}
	var s status.Status
	if err := json.Unmarshal(out, &s); err != nil || s.Version != status.Version || s.Enrollment.Enrolled || s.Tunnel.State != "not configured" {
		t.Errorf("status --json = %s (%v)", out, err)
	}
	text, err := exec.Command(bin, "status", "--root", root).Output()
	if err != nil || !strings.Contains(string(text), "enrolled:     no; enroll this laptop") {
		t.Errorf("status = %s (%v)", text, err)
	}
	if err := run.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- run.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("run after SIGTERM: %v\n%s", err, logs.String())
		}
	case <-time.After(10 * time.Second):
		t.Fatalf("run did not stop on SIGTERM\n%s", logs.String())
	}
	if !strings.Contains(logs.String(), "agent stopped") {
		t.Errorf("no clean stop in the log:\n%s", logs.String())
	}
	if matches, _ := filepath.Glob(filepath.Join(root, "var/run/kiwistack/*")); len(matches) != 0 {
		t.Errorf("left behind: %v", matches)
	}
}
