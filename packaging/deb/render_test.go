package deb

import (
	"bytes"
	"compress/gzip"
	"flag"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/kiwistack/endpoint/packaging/internal/pkgtest"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

var testDate = time.Date(2026, 11, 28, 6, 0, 0, 0, time.UTC)

func TestRenderGolden(t *testing.T) {
	r, err := Render(DefaultData("0.1.0", testDate))
	if err != nil {
		t.Fatal(err)
	}
	pkgtest.CheckGolden(t, *update,
		pkgtest.Artefact{Name: "kiwistack-agent.service", Data: r.Unit},
		pkgtest.Artefact{Name: "postinst", Data: r.Postinst},
		pkgtest.Artefact{Name: "prerm", Data: r.Prerm},
		pkgtest.Artefact{Name: "postrm", Data: r.Postrm},
		pkgtest.Artefact{Name: "enroll.yaml", Data: r.Config},
		pkgtest.Artefact{Name: "copyright", Data: r.Copyright},
	)
}

func TestChangelog(t *testing.T) {
	r, err := Render(DefaultData("0.1.0+git3.gabc1234", testDate))
	if err != nil {
		t.Fatal(err)
	}
	zr, err := gzip.NewReader(bytes.NewReader(r.Changelog))
	if err != nil {
		t.Fatal(err)
	}
	text, err := io.ReadAll(zr)
	if err != nil {
		t.Fatal(err)
	}
	want := "kiwistack (0.1.0+git3.gabc1234) unstable; urgency=medium\n"
	if !strings.HasPrefix(string(text), want) || !strings.Contains(string(text), "Sat, 28 Nov 2026 06:00:00 +0000") {
		t.Errorf("changelog = %q, want it to start with %q and carry the commit date", text, want)
	}
	again, err := Render(DefaultData("0.1.0+git3.gabc1234", testDate))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(again.Changelog, r.Changelog) {
		t.Error("the gzip'd changelog is not reproducible")
	}
}

// TestMaintainerScriptsSyntax runs sh -n and, when installed, shellcheck
// on the rendered scripts.
func TestMaintainerScriptsSyntax(t *testing.T) {
	r, err := Render(DefaultData("0.1.0", testDate))
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	for name, b := range map[string][]byte{"postinst": r.Postinst, "prerm": r.Prerm, "postrm": r.Postrm} {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, b, 0o755); err != nil {
			t.Fatal(err)
		}
		if out, err := exec.Command("sh", "-n", p).CombinedOutput(); err != nil {
			t.Errorf("sh -n %s: %v\n%s", name, err, out)
		}
		if _, err := exec.LookPath("shellcheck"); err == nil {
			if out, err := exec.Command("shellcheck", "-s", "sh", p).CombinedOutput(); err != nil {
				t.Errorf("shellcheck %s: %v\n%s", name, err, out)
			}
		}
	}
}

// TestUnitVerify runs systemd-analyze verify on the unit as packaged, in a
// root holding the unit, the agent binary it starts and the host's targets
// and sockets it refers to. systemd need not be running.
func TestUnitVerify(t *testing.T) {
	analyze := pkgtest.RequireTool(t, "systemd-analyze", "systemd")
	r, err := Render(DefaultData("0.1.0", testDate))
	if err != nil {
		t.Fatal(err)
	}
	root := t.TempDir()
	units := filepath.Join(root, "lib/systemd/system")
	if err := os.MkdirAll(units, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, pattern := range []string{"/lib/systemd/system/*.target", "/lib/systemd/system/*.socket"} {
		matches, _ := filepath.Glob(pattern)
		for _, m := range matches {
			b, err := os.ReadFile(m)
			if err != nil {
				continue // a dangling alias
			}
			if err := os.WriteFile(filepath.Join(units, filepath.Base(m)), b, 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := os.WriteFile(filepath.Join(root, UnitPath), r.Unit, 0o644); err != nil {
		t.Fatal(err)
	}
	verify := func() (string, error) {
		out, err := exec.Command(analyze, "verify", "--root="+root, UnitPath).CombinedOutput()
		return string(out), err
	}
	// Without the agent binary, verify must complain: the check is real.
	if out, err := verify(); err == nil && !strings.Contains(out, "kiwistack-agent") {
		t.Fatalf("systemd-analyze verify accepted a unit whose binary is missing: %q", out)
	}
	if err := os.MkdirAll(filepath.Join(root, "usr/bin"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(root, AgentPath), []byte("#!/bin/sh\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	// verify exits 0 on warnings it merely logs: any output is a failure.
	if out, err := verify(); err != nil || out != "" {
		t.Fatalf("systemd-analyze verify %s: %v\n%s", UnitPath, err, out)
	}
}
