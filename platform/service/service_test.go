package service

import (
	"bytes"
	"flag"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"howett.net/plist"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

func require(t *testing.T, ok bool, why string) {
	t.Helper()
	if ok {
		return
	}
	if os.Getenv("KIWISTACK_REQUIRE_HW_TESTS") != "" {
		t.Fatal(why)
	}
	t.Skip(why)
}

func tool(t *testing.T, name, pkg string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	require(t, err == nil, name+" is not installed (Debian package "+pkg+"; scripts/install-test-deps)")
	return p
}

func checkGolden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from the golden file (go test -update to accept):\n%s", name, got)
	}
}

func testSpec() Spec {
	return Spec{
		Name: "kiwistack-agent", DisplayName: "KiwiStack agent", Description: "KiwiStack endpoint agent",
		Executable: "/usr/bin/kiwistack-agent", Arguments: []string{"run", "--state", "/var/lib/kiwi stack"},
		StateDir: "/var/lib/kiwi stack", ConfigDir: "/etc/kiwistack", StepDir: "/etc/step",
	}
}

// TestSystemdUnit checks the unit against its golden file and with
// systemd-analyze verify in a root holding the unit, the binary and the
// host's targets (systemd need not run).
func TestSystemdUnit(t *testing.T) {
	unit := SystemdUnit(testSpec())
	checkGolden(t, "kiwistack-agent.service.golden", unit)
	for _, want := range []string{"NoNewPrivileges=yes", "ProtectHome=yes", "PrivateTmp=yes", "Restart=on-failure", "ProtectSystem=strict",
		`ExecStart=/usr/bin/kiwistack-agent run --state "/var/lib/kiwi stack"`} {
		if !bytes.Contains(unit, []byte(want+"\n")) {
			t.Errorf("unit lacks %q", want)
		}
	}
	analyze := tool(t, "systemd-analyze", "systemd")
	root := t.TempDir()
	units := filepath.Join(root, "etc/systemd/system")
	sys := filepath.Join(root, "lib/systemd/system")
	for _, d := range []string{units, sys, filepath.Join(root, "usr/bin")} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	matches, _ := filepath.Glob("/lib/systemd/system/*.target")
	for _, m := range matches {
		if b, err := os.ReadFile(m); err == nil {
			if err := os.WriteFile(filepath.Join(sys, filepath.Base(m)), b, 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := os.WriteFile(filepath.Join(units, "kiwistack-agent.service"), unit, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(root, "usr/bin/kiwistack-agent"), []byte("#!/bin/sh\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(analyze, "verify", "--root="+root, "/etc/systemd/system/kiwistack-agent.service").CombinedOutput()
	if err != nil || len(out) != 0 { // verify exits 0 on warnings it only logs
		t.Fatalf("systemd-analyze verify: %v\n%s", err, out)
	}
}

// TestLaunchdPlist checks the plist against its golden file and parses it
// with plistutil (libplist), converting it to JSON to read it back.
func TestLaunchdPlist(t *testing.T) {
	s := testSpec()
	s.Arguments = append(s.Arguments, "--socket", "/var/run/<k&s>")
	p := LaunchdPlist(s)
	checkGolden(t, "org.kiwistack.kiwistack-agent.plist.golden", p)
	plistutil := tool(t, "plistutil", "libplist-utils")
	in := filepath.Join(t.TempDir(), "agent.plist")
	if err := os.WriteFile(in, p, 0o644); err != nil {
		t.Fatal(err)
	}
	// A round trip through libplist's binary form: plistutil refuses what
	// it cannot parse, and its XML is read back here.
	bin := in + ".bin"
	if out, err := exec.Command(plistutil, "-i", in, "-o", bin, "-f", "bin").CombinedOutput(); err != nil {
		t.Fatalf("plistutil to binary: %v\n%s", err, out)
	}
	out, err := exec.Command(plistutil, "-i", bin, "-f", "xml").Output()
	if err != nil {
		t.Fatalf("plistutil to XML: %v", err)
	}
	var got struct {
		Label            string
		ProgramArguments []string
		RunAtLoad        bool
		KeepAlive        map[string]bool
	}
	if _, err := plist.Unmarshal(out, &got); err != nil {
		t.Fatalf("reading plistutil's output: %v\n%s", err, out)
	}
	wantArgs := append([]string{s.Executable}, s.Arguments...)
	if got.Label != "org.kiwistack.kiwistack-agent" || !slices.Equal(got.ProgramArguments, wantArgs) || !got.RunAtLoad ||
		got.KeepAlive["SuccessfulExit"] {
		t.Errorf("plist read back as %+v", got)
	}
}

// TestWindowsDefinition checks the Windows service definition and that
// Config hands kardianos the options its service_windows.go reads.
func TestWindowsDefinition(t *testing.T) {
	s := testSpec()
	s.Executable = `C:\Program Files\KiwiStack\kiwistack-agent.exe`
	s.Arguments = []string{"run"}
	checkGolden(t, "kiwistack-agent.windows.json.golden", WindowsDefinition(s).JSON())
	c := Config(s)
	for k, want := range map[string]any{"StartType": "automatic", "OnFailure": "restart", "OnFailureDelayDuration": "5s", "DelayedAutoStart": true} {
		if got := c.Option[k]; got != want {
			t.Errorf("Option[%s] = %v, want %v", k, got, want)
		}
	}
	if c.Option["SystemdScript"] != string(SystemdUnit(s)) || c.Option["LaunchdConfig"] != string(LaunchdPlist(s)) {
		t.Error("Config does not carry the rendered unit and plist")
	}
	if strings.Contains(c.Option["SystemdScript"].(string), "{{") {
		t.Error("the unit contains template actions kardianos would expand")
	}
}

func TestSystemdEscape(t *testing.T) {
	for in, want := range map[string]string{
		"/usr/bin/x": "/usr/bin/x", "a b": `"a b"`, `50%`: `"50%%"`, `$HOME`: `"$$HOME"`, `q"`: `"q\""`, "": `""`,
	} {
		if got := systemdEscape(in); got != want {
			t.Errorf("systemdEscape(%q) = %s, want %s", in, got, want)
		}
	}
}
