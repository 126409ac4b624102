package directory

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io/fs"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/kiwistack/endpoint/enroll/protocol"
	"github.com/kiwistack/endpoint/internal/golden"
)

var update = flag.Bool("update", false, "rewrite the golden files")

func testCA(t testing.TB) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "ca.pem"))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func testConfig(t testing.TB) *protocol.DirectoryConfig {
	return &protocol.DirectoryConfig{
		LDAPURIs:       []string{"ldaps://ldap.acme.example:636", "ldaps://100.96.0.1"},
		BaseDN:         "dc=acme,dc=example",
		Realm:          "ACME.EXAMPLE",
		KDCs:           []string{"100.96.0.1", "kdc2.acme.example:88"},
		KpasswdServers: []string{"100.96.0.1:464"},
		CACertificate:  testCA(t),
	}
}

func TestRenderGolden(t *testing.T) {
	files, err := Render(testConfig(t))
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range files {
		name := filepath.Base(f.Path)
		if f.Path == SSSDConf && f.Mode != 0o600 {
			t.Errorf("sssd.conf mode %#o, want 0600", f.Mode)
		}
		golden.Check(t, filepath.Join("testdata", name+".golden"), f.Path, f.Content, *update)
		if f.Path == SSSDConf {
			requireSSSCtl(t)
			if err := ConfigCheck(context.Background(), Exec{}, f.Content); err != nil {
				t.Errorf("sssctl: %v", err)
			}
		}
	}
	start := testConfig(t)
	start.LDAPURIs = []string{"ldap://100.96.0.1"}
	start.KpasswdServers = nil
	files, err = Render(start)
	if err != nil {
		t.Fatal(err)
	}
	conf := string(files[2].Content)
	if !strings.Contains(conf, "ldap_id_use_start_tls = true\n") || strings.Contains(conf, "krb5_kpasswd") {
		t.Errorf("StartTLS rendering:\n%s", conf)
	}
	if err := ConfigCheck(context.Background(), Exec{}, files[2].Content); err != nil {
		t.Errorf("sssctl on the StartTLS rendering: %v", err)
	}
	// Login groups: the simple access provider with exactly those groups.
	if !strings.Contains(conf, "access_provider = permit\n") || strings.Contains(conf, "simple_allow_groups") {
		t.Errorf("without login groups every directory user may log in:\n%s", conf)
	}
	grouped := testConfig(t)
	grouped.LoginGroups = []string{"laptop-users", "it_admins"}
	files, err = Render(grouped)
	if err != nil {
		t.Fatal(err)
	}
	conf = string(files[2].Content)
	if !strings.Contains(conf, "access_provider = simple\nsimple_allow_groups = laptop-users, it_admins\n") || strings.Contains(conf, "access_provider = permit") {
		t.Errorf("login groups rendering:\n%s", conf)
	}
	if err := ConfigCheck(context.Background(), Exec{}, files[2].Content); err != nil {
		t.Errorf("sssctl on the login-groups rendering: %v", err)
	}
}

// requireSSSCtl skips (or fails under KIWISTACK_REQUIRE_HW_TESTS=1) when
// sssctl is not installed.
func requireSSSCtl(t *testing.T) {
	t.Helper()
	if _, err := exec.LookPath("sssctl"); err == nil {
		return
	}
	msg := "sssctl (Debian sssd-tools, scripts/install-test-deps) is not installed"
	if os.Getenv("KIWISTACK_REQUIRE_HW_TESTS") == "1" {
		t.Fatal(msg)
	}
	t.Skip(msg)
}

func TestConfigCheckRefusesGarbage(t *testing.T) {
	requireSSSCtl(t)
	err := ConfigCheck(context.Background(), Exec{}, []byte("[sssd]\nservices = nss\ndomains = x\n[domain/x]\nid_provider = ldap\nno_such_option = 1\n"))
	if err == nil || !strings.Contains(err.Error(), "no_such_option") {
		t.Errorf("err = %v, want sssctl's complaint about no_such_option", err)
	}
}

func TestValidate(t *testing.T) {
	for _, tc := range []struct {
		name, want string
		edit       func(*protocol.DirectoryConfig)
	}{
		{"no uris", "ldap_uris: missing", func(d *protocol.DirectoryConfig) { d.LDAPURIs = nil }},
		{"http", "ldap_uris[0]", func(d *protocol.DirectoryConfig) { d.LDAPURIs = []string{"https://x"} }},
		{"path", "ldap_uris[0]", func(d *protocol.DirectoryConfig) { d.LDAPURIs = []string{"ldaps://x/dc=a"} }},
		{"newline", "ldap_uris[0]", func(d *protocol.DirectoryConfig) { d.LDAPURIs = []string{"ldaps://x\nid_provider = files"} }},
		{"comma", "ldap_uris[0]", func(d *protocol.DirectoryConfig) { d.LDAPURIs = []string{"ldaps://a,ldaps://b"} }},
		{"mixed", "mixes", func(d *protocol.DirectoryConfig) { d.LDAPURIs = []string{"ldaps://a", "ldap://b"} }},
		{"port", "ldap_uris[0]", func(d *protocol.DirectoryConfig) { d.LDAPURIs = []string{"ldaps://a:0"} }},
		{"no base", "base_dn: missing", func(d *protocol.DirectoryConfig) { d.BaseDN = "" }},
		{"bad base", "base_dn", func(d *protocol.DirectoryConfig) { d.BaseDN = "dc=a,,dc=b" }},
		{"base injection", "base_dn", func(d *protocol.DirectoryConfig) { d.BaseDN = "dc=a\n[domain/evil]" }},
		{"realm lower", "realm", func(d *protocol.DirectoryConfig) { d.Realm = "acme.example" }},
		{"realm brace", "realm", func(d *protocol.DirectoryConfig) { d.Realm = "A}B" }},
		{"no kdc", "kdcs: missing", func(d *protocol.DirectoryConfig) { d.KDCs = nil }},
		{"kdc v6", "kdcs[0]", func(d *protocol.DirectoryConfig) { d.KDCs = []string{"fd00::1"} }},
		{"kdc brace", "kdcs[0]", func(d *protocol.DirectoryConfig) { d.KDCs = []string{"a}"} }},
		{"kpasswd", "kpasswd_servers[0]", func(d *protocol.DirectoryConfig) { d.KpasswdServers = []string{"a:99999"} }},
		{"no ca", "ca_certificate: missing", func(d *protocol.DirectoryConfig) { d.CACertificate = "" }},
		{"ca junk", "ca_certificate", func(d *protocol.DirectoryConfig) { d.CACertificate += "junk" }},
		{"group injection", "login_groups[0]", func(d *protocol.DirectoryConfig) { d.LoginGroups = []string{"a\naccess_provider = permit"} }},
		{"group list", "login_groups[1]", func(d *protocol.DirectoryConfig) { d.LoginGroups = []string{"a", "b, c"} }},
		{"group twice", "login_groups[1]", func(d *protocol.DirectoryConfig) { d.LoginGroups = []string{"a", "a"} }},
		{"ca key", "ca_certificate", func(d *protocol.DirectoryConfig) {
			d.CACertificate = "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n"
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := testConfig(t)
			tc.edit(d)
			err := Validate(d)
			if !errors.Is(err, ErrInvalid) || !errors.Is(err, protocol.ErrMalformed) || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("err = %v, want one about %q", err, tc.want)
			}
		})
	}
	ok := testConfig(t)
	ok.KDCs = []string{"[fd00::1]:88", "kdc.example"}
	ok.LDAPURIs = []string{"ldaps://[fd00::1]:636"}
	if err := Validate(ok); err != nil {
		t.Errorf("valid configuration refused: %v", err)
	}
}

func TestEnableNSS(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"passwd:         files systemd\ngroup:          files systemd # c\nshadow:         files\nhosts: files dns\n",
			"passwd:         files systemd sss\ngroup:          files systemd sss # c\nshadow:         files sss\nhosts: files dns\n"},
		{"passwd: files sss\ngroup: sss files\nshadow: files [NOTFOUND=return] sss\n", "passwd: files sss\ngroup: sss files\nshadow: files [NOTFOUND=return] sss\n"},
		{"", "passwd:         files sss\ngroup:          files sss\nshadow:         files sss\n"},
		{"# only a comment", "# only a comment\npasswd:         files sss\ngroup:          files sss\nshadow:         files sss\n"},
	} {
		got, changed := EnableNSS([]byte(tc.in))
		if string(got) != tc.want {
			t.Errorf("EnableNSS(%q) =\n%s\nwant\n%s", tc.in, got, tc.want)
		}
		if changed != (tc.in != tc.want) {
			t.Errorf("EnableNSS(%q) changed = %v", tc.in, changed)
		}
		again, changed := EnableNSS(got)
		if changed || string(again) != string(got) {
			t.Errorf("EnableNSS is not idempotent on %q", got)
		}
	}
}

func TestIncludeKrb5Dir(t *testing.T) {
	in := "[libdefaults]\n\tdefault_realm = ATHENA.MIT.EDU\n"
	got, changed := IncludeKrb5Dir([]byte(in))
	if !changed || !strings.HasPrefix(string(got), "# Added by kiwistack-agent") || !strings.HasSuffix(string(got), in) {
		t.Fatalf("IncludeKrb5Dir = %q", got)
	}
	if again, changed := IncludeKrb5Dir(got); changed || string(again) != string(got) {
		t.Errorf("not idempotent: %q", again)
	}
	if _, changed := IncludeKrb5Dir([]byte("includedir /etc/krb5.conf.d\n")); changed {
		t.Error("an include without the slash was not recognised")
	}
}

// sandbox is a root with Debian's PAM profiles and common files copied
// from this machine, and its own nsswitch.conf and krb5.conf.
func sandbox(t *testing.T) string {
	t.Helper()
	if !Supported {
		t.Skip("SSSD configuration is Linux only")
	}
	for _, p := range []string{"/usr/share/pam-configs/sss", "/usr/share/pam-configs/mkhomedir", "/usr/sbin/pam-auth-update"} {
		if _, err := os.Stat(p); err != nil {
			msg := p + " missing: install libpam-sss and libpam-runtime (scripts/install-test-deps)"
			if os.Getenv("KIWISTACK_REQUIRE_HW_TESTS") == "1" {
				t.Fatal(msg)
			}
			t.Skip(msg)
		}
	}
	root := t.TempDir()
	for _, d := range []string{"/usr/share/pam-configs", "/etc/pam.d", "/var/lib/pam"} {
		if err := os.MkdirAll(filepath.Join(root, filepath.Dir(d)), 0o755); err != nil {
			t.Fatal(err)
		}
		if out, err := exec.Command("cp", "-a", d, filepath.Join(root, d)).CombinedOutput(); err != nil {
			t.Fatalf("copying %s: %v\n%s", d, err, out)
		}
	}
	// Start from PAM without sss and mkhomedir, as a fresh install has it.
	if out, err := exec.Command("pam-auth-update", "--root", root, "--disable", "sss", "mkhomedir").CombinedOutput(); err != nil {
		t.Fatalf("pam-auth-update --disable: %v\n%s", err, out)
	}
	write(t, filepath.Join(root, NSSwitchConf), "passwd:         files systemd\ngroup:          files systemd\nshadow:         files\nhosts:          files dns\n")
	write(t, filepath.Join(root, Krb5Conf), "[libdefaults]\n\tdefault_realm = ATHENA.MIT.EDU\n")
	return root
}

func write(t *testing.T, p, s string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(s), 0o644); err != nil {
		t.Fatal(err)
	}
}

// snapshot maps every regular file under root to its mode and content.
func snapshot(t *testing.T, root string) map[string]string {
	t.Helper()
	m := map[string]string{}
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		b, _ := os.ReadFile(p)
		m[p] = fmt.Sprintf("%v %s", fi.Mode(), b)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// refuse is a DialFunc for which no server answers.
func refuse(context.Context, string, string) (net.Conn, error) {
	return nil, errors.New("connection refused")
}

// countingRunner counts the programs it runs through Exec.
type countingRunner struct{ runs []string }

func (r *countingRunner) Run(ctx context.Context, name string, args ...string) ([]byte, error) {
	r.runs = append(r.runs, name)
	return Exec{}.Run(ctx, name, args...)
}

func TestControllerSandbox(t *testing.T) {
	root := sandbox(t)
	dc := testConfig(t)
	cfg := &protocol.AgentConfig{Directory: dc}
	r := &countingRunner{}
	c := New(Options{Root: root, Runner: r, Service: NoRestart{}, Dial: refuse, Config: func() *protocol.AgentConfig { return cfg }})
	if _, err := c.Reconcile(context.Background()); err != nil {
		t.Fatal(err)
	}
	st := c.Status()
	if st.State != StateConfigured || !st.Configured || st.Realm != "ACME.EXAMPLE" || len(st.LDAPURIs) != 2 {
		t.Fatalf("status = %+v", st)
	}
	fi, err := os.Stat(filepath.Join(root, SSSDConf))
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("sssd.conf: %v %v", fi, err)
	}
	for p, want := range map[string]string{
		NSSwitchConf:                "passwd:         files systemd sss\n",
		Krb5Conf:                    Krb5Include + "\n",
		"/etc/pam.d/common-auth":    "pam_sss.so",
		"/etc/pam.d/common-session": "pam_mkhomedir.so",
	} {
		b, err := os.ReadFile(filepath.Join(root, p))
		if err != nil || !strings.Contains(string(b), want) {
			t.Errorf("%s lacks %q: %v\n%s", p, want, err, b)
		}
	}

	// Idempotent: a second pass changes nothing and runs no pam-auth-update.
	before := snapshot(t, root)
	r.runs = nil
	if _, err := c.Reconcile(context.Background()); err != nil {
		t.Fatal(err)
	}
	for _, n := range r.runs {
		if n == "pam-auth-update" {
			t.Error("a second pass ran pam-auth-update again")
		}
	}
	after := snapshot(t, root)
	if fmt.Sprint(before) != fmt.Sprint(after) {
		t.Error("a second pass changed files")
	}

	// A bad section is refused with a clear status, nothing written.
	bad := *dc
	bad.Realm = "acme"
	bad.BaseDN = "dc=other,dc=example"
	cfg = &protocol.AgentConfig{Directory: &bad}
	if _, err := c.Reconcile(context.Background()); !errors.Is(err, ErrInvalid) {
		t.Fatalf("bad section: err = %v", err)
	}
	if st := c.Status(); st.State != StateError || !strings.Contains(st.Message, "directory.realm") {
		t.Errorf("status after a bad section = %+v", st)
	}
	if fmt.Sprint(snapshot(t, root)) != fmt.Sprint(after) {
		t.Error("a bad section changed files")
	}

	// The tenant removes its directory: the agent's files go, SSSD is
	// restarted (with no domain), NSS and PAM stay as the packages have them.
	restarts := &countingService{}
	c.o.Service = restarts
	cfg = &protocol.AgentConfig{}
	if _, err := c.Reconcile(context.Background()); err != nil {
		t.Fatal(err)
	}
	if st := c.Status(); st.State != StateNotConfigured || !strings.Contains(st.Message, "removed") {
		t.Errorf("status without a section = %+v", st)
	}
	for _, p := range []string{SSSDConf, CAFile, Krb5Snippet} {
		if _, err := os.Stat(filepath.Join(root, p)); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("%s left behind after the directory was removed: %v", p, err)
		}
	}
	if restarts.n != 1 {
		t.Errorf("sssd restarted %d times after the removal, want 1", restarts.n)
	}
	// Again: nothing to remove, no restart.
	if _, err := c.Reconcile(context.Background()); err != nil || restarts.n != 1 {
		t.Errorf("a second pass without a section: %v, %d restarts", err, restarts.n)
	}
	// An sssd.conf that is not the agent's is never removed.
	own := []byte("[sssd]\nservices = nss\n")
	if err := os.WriteFile(filepath.Join(root, SSSDConf), own, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Reconcile(context.Background()); err != nil {
		t.Fatal(err)
	}
	if b, err := os.ReadFile(filepath.Join(root, SSSDConf)); err != nil || string(b) != string(own) {
		t.Errorf("the machine's own sssd.conf was touched: %v %q", err, b)
	}
	// Not enrolled: nothing happens either.
	cfg = nil
	if _, err := c.Reconcile(context.Background()); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(root, SSSDConf)); err != nil {
		t.Errorf("not being enrolled removed sssd.conf: %v", err)
	}
}

// countingService counts SSSD restarts.
type countingService struct{ n int }

func (s *countingService) Restart(context.Context) (string, error) {
	s.n++
	return "", nil
}

func TestControllerWithoutSSSD(t *testing.T) {
	if !Supported {
		t.Skip("SSSD configuration is Linux only")
	}
	root := t.TempDir()
	cfg := &protocol.AgentConfig{Directory: testConfig(t)}
	c := New(Options{Root: root, Service: NoRestart{}, Config: func() *protocol.AgentConfig { return cfg }})
	if _, err := c.Reconcile(context.Background()); err == nil || !strings.Contains(err.Error(), "install sssd") {
		t.Fatalf("err = %v", err)
	}
	if m := snapshot(t, root); len(m) != 0 {
		t.Errorf("files written without SSSD: %v", m)
	}
}

// FuzzDirectoryConfig decodes a tenant configuration's directory section
// as the agent does and checks that validation and rendering never panic,
// that whatever validates renders, and that no rendered value can start a
// new line or section.
func FuzzDirectoryConfig(f *testing.F) {
	good, err := json.Marshal(testConfig(f))
	if err != nil {
		f.Fatal(err)
	}
	f.Add(good)
	f.Add([]byte(`{"ldap_uris":["ldap://a"],"base_dn":"dc=a","realm":"A","kdcs":["a"],"ca_certificate":""}`))
	f.Add([]byte(`{"ldap_uris":["ldaps://[::1]:636"],"base_dn":"dc=a, dc=b","realm":"A.B","kdcs":["[::1]:88","b:1"],"kpasswd_servers":["c"]}`))
	f.Add([]byte(`{"ldap_uris":["ldaps://a\n[x]"],"base_dn":"o=x\n","realm":"A}","kdcs":["a}"]}`))
	f.Add([]byte(`null`))
	f.Fuzz(func(t *testing.T, b []byte) {
		var d protocol.DirectoryConfig
		if err := json.Unmarshal(b, &d); err != nil {
			return
		}
		files, err := Render(&d)
		if err != nil {
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("refusal does not wrap ErrInvalid: %v", err)
			}
			return
		}
		conf := string(files[2].Content)
		var sections int
		for _, l := range strings.Split(conf, "\n") {
			if strings.HasPrefix(l, "[") {
				sections++
			}
		}
		if sections != 4 {
			t.Fatalf("%d sections in sssd.conf from %q:\n%s", sections, b, conf)
		}
		krb := string(files[1].Content)
		if strings.Count(krb, "{") != 1 || strings.Count(krb, "}") != 1 {
			t.Fatalf("krb5 snippet from %q has extra braces:\n%s", b, krb)
		}
	})
}
