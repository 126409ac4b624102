package pkg

import (
	"bytes"
	"flag"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/kiwistack/endpoint/enroll"
	"github.com/kiwistack/endpoint/packaging/internal/pkgtest"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

func testData() Data {
	d := DefaultData("0.1.0", "v0.1.0", testDate)
	d.NumberOfFiles, d.InstallKBytes = 18, 30272
	return d
}

func TestRenderGolden(t *testing.T) {
	r, err := Render(testData())
	if err != nil {
		t.Fatal(err)
	}
	pkgtest.CheckGolden(t, *update,
		pkgtest.Artefact{Name: "PackageInfo", Data: r.PackageInfo},
		pkgtest.Artefact{Name: "Distribution", Data: r.Distribution},
		pkgtest.Artefact{Name: Label + ".plist", Data: r.Plist},
		pkgtest.Artefact{Name: "enroll.yaml", Data: r.Config},
		pkgtest.Artefact{Name: "LICENSE", Data: r.License},
		pkgtest.Artefact{Name: "preinstall", Data: r.Preinstall},
		pkgtest.Artefact{Name: "postinstall", Data: r.Postinstall},
	)
}

// TestConfigParses: the default configuration is what the enroller reads,
// with every value empty.
func TestConfigParses(t *testing.T) {
	r, err := Render(testData())
	if err != nil {
		t.Fatal(err)
	}
	c, err := enroll.ParseConfig(r.Config)
	if err != nil {
		t.Fatal(err)
	}
	if c != (enroll.Config{}) {
		t.Errorf("default configuration %+v, want empty values", c)
	}
}

// TestXMLWellFormed runs xmllint on PackageInfo, Distribution and the plist.
func TestXMLWellFormed(t *testing.T) {
	xmllint := pkgtest.RequireTool(t, "xmllint", "libxml2-utils")
	d := testData()
	d.Describe = `v1 <&> "quoted"` // escaping is exercised
	r, err := Render(d)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	for name, b := range map[string][]byte{"PackageInfo": r.PackageInfo, "Distribution": r.Distribution, "plist": r.Plist} {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
		if out, err := exec.Command(xmllint, "--noout", "--nonet", p).CombinedOutput(); err != nil {
			t.Errorf("xmllint %s: %v\n%s", name, err, out)
		}
	}
	if !strings.Contains(string(r.Distribution), "v1 &lt;&amp;&gt; &#34;quoted&#34;") {
		t.Errorf("title not escaped:\n%s", r.Distribution)
	}
}

// TestPlistutil has libplist read the launchd plist, convert it to binary
// and back: it must survive the round trip with the keys launchd needs.
func TestPlistutil(t *testing.T) {
	plistutil := pkgtest.RequireTool(t, "plistutil", "libplist-utils")
	r, err := Render(testData())
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	src := filepath.Join(dir, "agent.plist")
	if err := os.WriteFile(src, r.Plist, 0o644); err != nil {
		t.Fatal(err)
	}
	run := func(in, out, format string) {
		t.Helper()
		if o, err := exec.Command(plistutil, "-i", in, "-o", out, "-f", format).CombinedOutput(); err != nil {
			t.Fatalf("plistutil -i %s -f %s: %v\n%s", in, format, err, o)
		}
	}
	run(src, filepath.Join(dir, "a.bin"), "bin")
	run(filepath.Join(dir, "a.bin"), filepath.Join(dir, "a.xml"), "xml")
	run(filepath.Join(dir, "a.xml"), filepath.Join(dir, "b.bin"), "bin")
	a, _ := os.ReadFile(filepath.Join(dir, "a.bin"))
	b, _ := os.ReadFile(filepath.Join(dir, "b.bin"))
	if !bytes.Equal(a, b) {
		t.Error("the plist does not survive xml -> bin -> xml -> bin")
	}
	back, _ := os.ReadFile(filepath.Join(dir, "a.xml"))
	for _, want := range []string{
		"<key>Label</key>", "<string>" + Label + "</string>",
		"<string>" + AgentPath + "</string>", "<string>run</string>",
		"<key>KeepAlive</key>", "<key>RunAtLoad</key>",
		"<string>" + LogDir + "/agent.log</string>",
	} {
		if !strings.Contains(string(back), want) {
			t.Errorf("plist after the round trip lacks %s:\n%s", want, back)
		}
	}
}

// TestScripts runs sh -n and shellcheck on the rendered scripts.
func TestScripts(t *testing.T) {
	shellcheck := pkgtest.RequireTool(t, "shellcheck", "shellcheck")
	r, err := Render(testData())
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	for name, b := range map[string][]byte{"preinstall": r.Preinstall, "postinstall": r.Postinstall} {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, b, 0o755); err != nil {
			t.Fatal(err)
		}
		if out, err := exec.Command("sh", "-n", p).CombinedOutput(); err != nil {
			t.Errorf("sh -n %s: %v\n%s", name, err, out)
		}
		if out, err := exec.Command(shellcheck, "-s", "sh", p).CombinedOutput(); err != nil {
			t.Errorf("shellcheck %s: %v\n%s", name, err, out)
		}
	}
	if !strings.Contains(string(r.Postinstall), "/bin/launchctl bootstrap system '"+PlistPath+"'") {
		t.Errorf("postinstall does not bootstrap the daemon:\n%s", r.Postinstall)
	}
}

// TestPostinstallConfig runs postinstall against a target volume other than
// / (so launchctl is not reached): it creates enroll.yaml from the default
// once and then keeps the customer's.
func TestPostinstallConfig(t *testing.T) {
	r, err := Render(testData())
	if err != nil {
		t.Fatal(err)
	}
	pkgtest.Require(t, os.Geteuid() == 0, "postinstall chowns enroll.yaml to root: needs root")
	vol := t.TempDir()
	cfg := filepath.Join(vol, ConfigPath)
	if err := os.MkdirAll(filepath.Dir(cfg), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(cfg+".default", r.Config, 0o644); err != nil {
		t.Fatal(err)
	}
	// macOS paths of cp, chmod and chown, mapped onto the host's.
	script := strings.NewReplacer("/bin/cp", "cp", "/bin/chmod", "chmod", "/usr/sbin/chown root:wheel", "chown 0:0").Replace(string(r.Postinstall))
	run := func() {
		t.Helper()
		cmd := exec.Command("sh", "-c", script, "postinstall", "/tmp/kiwistack.pkg", "/", vol)
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("postinstall: %v\n%s", err, out)
		}
	}
	run()
	if b, err := os.ReadFile(cfg); err != nil || !bytes.Equal(b, r.Config) {
		t.Fatalf("enroll.yaml after install: %v", err)
	}
	custom := []byte("api: \"https://acme.example\"\ntenant: acme\nroot_fingerprint: ab\n")
	if err := os.WriteFile(cfg, custom, 0o644); err != nil {
		t.Fatal(err)
	}
	run()
	if b, _ := os.ReadFile(cfg); !bytes.Equal(b, custom) {
		t.Errorf("upgrade replaced the customer's enroll.yaml: %q", b)
	}
}
