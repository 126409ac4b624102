package fleet

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/kiwistack/endpoint/enroll/protocol"
)

var update = flag.Bool("update", false, "rewrite the golden files")

const testCA = `-----BEGIN CERTIFICATE-----
MIIBfake
-----END CERTIFICATE-----
`

func testConfig() protocol.FleetConfig {
	return protocol.FleetConfig{URL: "https://fleet.acme.example", EnrollSecret: "s3cr3t-Enroll", Certificate: testCA}
}

func TestRenderGolden(t *testing.T) {
	for _, goos := range []string{"linux", "darwin", "windows"} {
		t.Run(goos, func(t *testing.T) {
			files, err := Render(goos, testConfig())
			if err != nil {
				t.Fatal(err)
			}
			var b strings.Builder
			for _, f := range files {
				fmt.Fprintf(&b, "==> %s (%#o)\n%s\n", f.Path, f.Mode, f.Content)
				if strings.HasSuffix(f.Path, ".plist") {
					checkPlist(t, f.Content)
				}
				if strings.HasSuffix(f.Path, "secret.txt") && f.Mode != 0o600 {
					t.Errorf("secret mode %#o", f.Mode)
				}
			}
			if goos == "windows" {
				args, err := ServiceArguments(testConfig())
				if err != nil {
					t.Fatal(err)
				}
				fmt.Fprintf(&b, "==> service %q arguments\n%s\n", WindowsService, args)
			}
			golden := filepath.Join("testdata", goos+".golden")
			if *update {
				if err := os.WriteFile(golden, []byte(b.String()), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatal(err)
			}
			if b.String() != string(want) {
				t.Errorf("%s differs from the rendering:\n%s", golden, b.String())
			}
		})
	}
}

// checkPlist validates the plist with plistutil (libplist-utils) when it
// is installed.
func checkPlist(t *testing.T, b []byte) {
	t.Helper()
	if _, err := exec.LookPath("plistutil"); err != nil {
		t.Log("plistutil not installed (scripts/install-test-deps); plist not validated")
		return
	}
	in := filepath.Join(t.TempDir(), "in.plist")
	if err := os.WriteFile(in, b, 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command("plistutil", "-i", in).CombinedOutput()
	if err != nil || len(out) == 0 {
		t.Fatalf("plistutil refuses the plist: %v\n%s", err, out)
	}
}

func TestValidate(t *testing.T) {
	for _, u := range []string{"http://fleet.example", "fleet.example", "https://", "https://a b", "https://u:p@fleet.example", "https://fleet.example/?x=1", "::bad"} {
		c := testConfig()
		c.URL = u
		if _, err := Render("linux", c); !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), "Fleet URL") {
			t.Errorf("URL %q: err = %v", u, err)
		}
	}
	c := testConfig()
	c.EnrollSecret = "a\nb"
	if err := Validate(c); !errors.Is(err, ErrInvalid) {
		t.Errorf("secret with newline: %v", err)
	}
	c = testConfig()
	c.Certificate = "junk"
	if err := Validate(c); !errors.Is(err, ErrInvalid) {
		t.Errorf("bad certificate: %v", err)
	}
}

type fakeService string

func (f fakeService) Active(context.Context) string { return string(f) }

func TestControllerIdempotent(t *testing.T) {
	root := t.TempDir()
	fc := testConfig()
	cfg := &protocol.AgentConfig{Fleet: &fc}
	c := New(Options{Root: root, GOOS: "linux", Service: fakeService("active"), Config: func() *protocol.AgentConfig { return cfg }})
	if _, err := c.Reconcile(context.Background()); err != nil {
		t.Fatal(err)
	}
	st := c.Status()
	if st.State != StateConfigured || !st.Configured || st.Installed || st.Running != "active" {
		t.Fatalf("status %+v", st)
	}
	secret := filepath.Join(root, "opt", "orbit", "secret.txt")
	env := filepath.Join(root, "etc", "default", "orbit")
	fi, err := os.Stat(secret)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("secret mode %v", fi.Mode())
	}
	old := time.Now().Add(-time.Hour).Truncate(time.Second)
	for _, p := range []string{secret, env} {
		if err := os.Chtimes(p, old, old); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := c.Reconcile(context.Background()); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{secret, env} {
		fi, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		if !fi.ModTime().Equal(old) {
			t.Errorf("%s rewritten although unchanged", p)
		}
	}
	// fleetd installed: its unit is there.
	unit := filepath.Join(root, "usr", "lib", "systemd", "system", "orbit.service")
	if err := os.MkdirAll(filepath.Dir(unit), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(unit, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	fc.URL = "https://fleet2.acme.example"
	if _, err := c.Reconcile(context.Background()); err != nil {
		t.Fatal(err)
	}
	if st := c.Status(); !st.Installed || st.URL != fc.URL {
		t.Errorf("status %+v", st)
	}
	if b, _ := os.ReadFile(env); !strings.Contains(string(b), "ORBIT_FLEET_URL=https://fleet2.acme.example\n") {
		t.Errorf("env file not updated:\n%s", b)
	}
}

func TestControllerNotConfigured(t *testing.T) {
	root := t.TempDir()
	c := New(Options{Root: root, GOOS: "linux", Service: fakeService("active"), Config: func() *protocol.AgentConfig { return &protocol.AgentConfig{Tenant: "acme"} }})
	if _, err := c.Reconcile(context.Background()); err != nil {
		t.Fatal(err)
	}
	if st, _ := c.State(); st != StateNotConfigured {
		t.Errorf("state %q", st)
	}
	if ents, _ := os.ReadDir(root); len(ents) != 0 {
		t.Errorf("files written: %v", ents)
	}
}

func TestControllerMalformedURL(t *testing.T) {
	root := t.TempDir()
	fc := testConfig()
	fc.URL = "http://fleet.acme.example"
	c := New(Options{Root: root, GOOS: "linux", Service: fakeService("unknown"), Config: func() *protocol.AgentConfig { return &protocol.AgentConfig{Fleet: &fc} }})
	_, err := c.Reconcile(context.Background())
	if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), "not an https URL") {
		t.Fatalf("err = %v", err)
	}
	if st := c.Status(); st.State != StateError || st.Configured {
		t.Errorf("status %+v", st)
	}
	if ents, _ := os.ReadDir(root); len(ents) != 0 {
		t.Errorf("files written: %v", ents)
	}
}
