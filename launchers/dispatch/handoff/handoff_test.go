//go:build unix

package handoff

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// hostile are arguments a shell would expand, split or run.
var hostile = []string{"https://example.com/?q=$(touch PWNED)", "a;touch PWNED", "`touch PWNED`", `"'`, "*", "two words", ""}

// TestMain turns the test binary into the process that hands over, when the
// test below runs it with KIWISTACK_HANDOFF_TO set.
func TestMain(m *testing.M) {
	if target := os.Getenv("KIWISTACK_HANDOFF_TO"); target != "" {
		err := Exec(append([]string{target}, hostile...), []string{"RECORD=" + os.Getenv("RECORD")})
		os.Stderr.WriteString("handoff returned: " + err.Error() + "\n")
		os.Exit(3)
	}
	os.Exit(m.Run())
}

// The target replaces the process (same PID, the shell's $$) and receives
// every argument verbatim: nothing was expanded, split or run.
func TestExecReplacesTheProcess(t *testing.T) {
	dir := t.TempDir()
	target := filepath.Join(dir, "target")
	record := filepath.Join(dir, "record")
	if err := os.WriteFile(target, []byte("#!/bin/sh\nprintf '%s\\n' \"$$\" \"$@\" > \"$RECORD\"\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(self, "-test.run=^$")
	cmd.Dir = dir
	cmd.Env = []string{"KIWISTACK_HANDOFF_TO=" + target, "RECORD=" + record}
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	got, err := os.ReadFile(record)
	if err != nil {
		t.Fatal(err)
	}
	want := strconv.Itoa(cmd.Process.Pid) + "\n" + strings.Join(hostile, "\n") + "\n"
	if string(got) != want {
		t.Errorf("target recorded\n%q\nwant\n%q", got, want)
	}
	if _, err := os.Stat(filepath.Join(dir, "PWNED")); !os.IsNotExist(err) {
		t.Errorf("an argument ran a command")
	}
}

func TestExecRefuses(t *testing.T) {
	for _, argv := range [][]string{nil, {"sh", "-c", "true"}, {""}} {
		if err := Exec(argv, nil); !errors.Is(err, ErrNoProgram) {
			t.Errorf("%q: %v", argv, err)
		}
	}
	if err := Exec([]string{"/nonexistent/program"}, nil); err == nil {
		t.Errorf("a missing program did not fail")
	}
}
