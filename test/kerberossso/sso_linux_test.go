package kerberossso

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"math/big"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/kiwistack/endpoint/launchers"
	"github.com/kiwistack/endpoint/launchers/catalog"
	"github.com/kiwistack/endpoint/launchers/chromium"
	"github.com/kiwistack/endpoint/launchers/localstate"
	"github.com/kiwistack/endpoint/test/cdp"
	"github.com/kiwistack/endpoint/test/e2e"
	"github.com/kiwistack/endpoint/test/krb5test"
	"github.com/kiwistack/endpoint/test/pcsctest"
)

const (
	hubAddr = "10.89.0.1"
	lapAddr = "10.89.0.2"
	// outside is a host that is not the tenant's: Kerberos-protected by the
	// same server and realm, so a ticket would work if the browser sent one.
	outside = "intranet.example.test"
	// page is what the protected page says: the user Apache authenticated.
	hello = "Hello alice@" + krb5test.DefaultRealm
	// aliceUID is alice's uid and gid on the laptop: the browser runs as
	// her, in homes that are hers, as after a directory login. No account
	// of this machine has it.
	aliceUID = 41234
)

// headless are the flags a headless Debian Chromium needs here (the tests
// run as root, the machine's network is closed).
var headless = []string{"--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
	"--disable-background-networking", "--disable-component-update", "--disable-sync", "--password-store=basic"}

// require returns the path of tool or ends the test: a skip naming the
// Debian package, a failure when KIWISTACK_REQUIRE_HW_TESTS=1.
func require(t *testing.T, tool, pkg string) string {
	t.Helper()
	for _, p := range []string{tool, "/usr/sbin/" + tool, "/sbin/" + tool} {
		if path, err := exec.LookPath(p); err == nil {
			return path
		}
	}
	why := "the Kerberos SSO proof needs " + tool + " (Debian package " + pkg + "; scripts/install-test-deps installs it)"
	if os.Getenv(pcsctest.RequireEnv) == "1" {
		t.Fatal(why + ", and " + pcsctest.RequireEnv + "=1 forbids skipping")
	}
	t.Skip(why)
	return ""
}

// world is the hub and the laptop, ready for browsers.
type world struct {
	kdc     *krb5test.KDC
	lap     string // the laptop's network namespace
	policy  string // the rendered etc/chromium, bind-mounted over /etc/chromium
	skel    string // the rendered etc/skel
	homes   string // where the homes are: a directory alice can traverse
	krb5    string // the clients' krb5.conf, readable by alice
	hosts   string // the laptop's private /etc/hosts
	access  string // Apache's access log
	chrome  string
	unshare string
	setpriv string
	sh      string
	mailURL string
	spki    string // the server key's SPKI hash, which the browser trusts
}

// TestKerberosSSO: see the package comment. Each case starts a fresh
// browser with a fresh home directory, so each window is the first one of
// a fresh Work profile.
func TestKerberosSSO(t *testing.T) {
	e2e.RequireNetns(t, "the Kerberos SSO proof")
	w := &world{
		chrome:  require(t, "chromium", "chromium"),
		unshare: require(t, "unshare", "util-linux"),
		setpriv: require(t, "setpriv", "util-linux"),
		sh:      require(t, "sh", "dash"),
	}
	require(t, "mount", "mount")
	apache := require(t, "apache2", "apache2-bin")
	if _, err := os.Stat(modules + "/mod_auth_gssapi.so"); err != nil {
		require(t, "mod_auth_gssapi.so", "libapache2-mod-auth-gssapi")
	}

	pid := os.Getpid()
	hub, lap := fmt.Sprintf("ksohub-%d", pid), fmt.Sprintf("ksolap-%d", pid)
	w.lap = lap
	e2e.AddNetns(t, hub)
	e2e.AddNetns(t, lap)
	e2e.Veth(t, hub, fmt.Sprintf("ksoh%d", pid), hubAddr+"/24", lap, fmt.Sprintf("ksol%d", pid), lapAddr+"/24")

	c, err := catalog.Defaults("acme", catalog.Subdomain)
	if err != nil {
		t.Fatal(err)
	}
	// The launcher's own URL, https://mail.od.acme.kiwistack.io/.
	w.mailURL = c.Launcher("mail").URL
	mailHost := strings.TrimSuffix(strings.TrimPrefix(w.mailURL, "https://"), "/")

	w.kdc = krb5test.Start(t, krb5test.Options{Netns: hub, Host: hubAddr, Domains: []string{c.Domain, "example.test"}})
	w.kdc.AddUser(t, "alice", "alice-password")
	dir := sharedDir(t)
	keytab := w.kdc.Keytab(t, filepath.Join(dir, "http.keytab"),
		w.kdc.AddService(t, "HTTP/"+mailHost), w.kdc.AddService(t, "HTTP/"+outside))
	if err := os.Chown(keytab, 33, 33); err != nil { // www-data, Apache's worker user
		t.Fatal(err)
	}
	w.spki = serverCert(t, dir, mailHost, outside)
	w.access = startApache(t, apache, hub, dir, keytab, mailHost, w.kdc)
	w.krb5 = filepath.Join(dir, "krb5.conf") // startApache's copy, 0644

	// Everything the launchers render for Linux (`kiwistack-agent render`),
	// under a root whose /etc/passwd has alice with an existing home: the
	// policy, /etc/skel's Local State, and alice's Local State seeded.
	root := sharedDir(t)
	w.homes = sharedDir(t)
	aliceHome := filepath.Join(root, "home/alice")
	if err := os.MkdirAll(filepath.Join(root, "etc"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Dir(aliceHome), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(aliceHome, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.Chown(aliceHome, aliceUID, aliceUID); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(root, "etc/passwd"), []byte(fmt.Sprintf("alice:x:%d:%d::/home/alice:/bin/sh\n", aliceUID, aliceUID)), 0o644); err != nil {
		t.Fatal(err)
	}
	var rendered bytes.Buffer
	if _, err := launchers.Render(&rendered, launchers.RenderOptions{Source: launchers.Source{Tenant: "acme"}, OS: "linux",
		Root: root, Browser: w.chrome}); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(rendered.String(), "seeded    alice's .config/chromium/Local State") {
		t.Fatalf("render did not seed alice's home:\n%s", rendered.String())
	}
	w.skel = filepath.Join(root, localstate.SkelDir)
	w.policy = filepath.Join(root, "etc/chromium")
	w.hosts = filepath.Join(t.TempDir(), "hosts")
	hostsFile := fmt.Sprintf("127.0.0.1 localhost\n%s %s %s\n", hubAddr, mailHost, outside)
	if err := os.WriteFile(w.hosts, []byte(hostsFile), 0o644); err != nil {
		t.Fatal(err)
	}
	ticket := filepath.Join(w.homes, "alice.cc")
	if err := w.kdc.Kinit(lap, "alice", "alice-password", ticket); err != nil {
		t.Fatal(err)
	}
	if err := os.Chown(ticket, aliceUID, aliceUID); err != nil { // alice's, as pam_sss leaves it
		t.Fatal(err)
	}

	// Chromium's own behaviour, the bug: without the seeding, the first
	// window of a fresh profile meets the challenge with GSSAPI not yet
	// loaded and shows the 401; Chromium then records the flag itself.
	t.Run("unseeded first window fails", func(t *testing.T) {
		home := w.newHome(t)
		mark := w.logLen(t)
		text := w.browse(t, home, ticket, w.mailURL, true)
		if log := w.logSince(t, mark); strings.Contains(log, " 200 ") {
			t.Errorf("Apache served the page to the unseeded first window:\n%s", log)
		}
		if strings.Contains(text, hello) {
			t.Fatalf("the first window of an unseeded profile authenticated: this Chromium no longer needs the seeding (launchers/localstate); page: %s", text)
		}
		if !strings.Contains(text, "Unauthorized") {
			t.Errorf("want the server's 401 page, got: %s", text)
		}
		b, err := os.ReadFile(filepath.Join(home, ".config/chromium", localstate.FileName))
		var ls struct {
			Net struct {
				Flag bool `json:"received_http_auth_negotiate_headers"`
			} `json:"net"`
		}
		if err != nil || json.Unmarshal(b, &ls) != nil || !ls.Net.Flag {
			t.Errorf("Chromium did not record %s in its Local State (%v): is it still the flag that gates GSSAPI?\n%.400s", localstate.Pref, err, b)
		}
	})

	signsIn := func(t *testing.T, home string) {
		mark := w.logLen(t)
		text := w.browse(t, home, ticket, w.mailURL, false)
		if !strings.Contains(text, hello) {
			t.Fatalf("the first window did not load authenticated as alice: %s\nApache:\n%s", text, w.logSince(t, mark))
		}
		// The browser ran as alice, in the Work profile of the default
		// user-data directory.
		if fi, err := os.Stat(filepath.Join(home, ".config/chromium", chromium.Profile)); err != nil || fi.Sys().(*syscall.Stat_t).Uid != aliceUID {
			t.Errorf("no Work profile of alice's under %s: %v", home, err)
		}
		log := w.logSince(t, mark)
		if !strings.Contains(log, mailHost+" 200 alice@"+krb5test.DefaultRealm+` "GET / HTTP/1.1" auth="Negotiate `) {
			t.Errorf("Apache did not log a 200 for alice with a Negotiate token:\n%s", log)
		}
		// The service ticket is for the URL's host itself, from the
		// laptop: no DNS canonicalisation chose the name.
		if !strings.Contains(w.kdc.Log(), lapAddr+": ISSUE: ") || !strings.Contains(w.kdc.Log(), "alice@"+krb5test.DefaultRealm+" for HTTP/"+mailHost+"@"+krb5test.DefaultRealm) {
			t.Errorf("the KDC's log has no ticket for HTTP/%s issued to alice:\n%s", mailHost, w.kdc.Log())
		}
	}
	// A home that existed before the render, seeded in place.
	t.Run("existing home, first window signs in", func(t *testing.T) { signsIn(t, aliceHome) })
	// A home made after it, from /etc/skel (as adduser and pam_mkhomedir
	// make it).
	t.Run("new home from skel, first window signs in", func(t *testing.T) { signsIn(t, w.skelHome(t)) })

	t.Run("host outside the allowlist gets no ticket", func(t *testing.T) {
		home := w.skelHome(t)
		mark := w.logLen(t)
		text := w.browse(t, home, ticket, "https://"+outside+"/", false)
		if strings.Contains(text, "Hello") || !strings.Contains(text, "Unauthorized") {
			t.Errorf("want the 401 page from %s, got: %s", outside, text)
		}
		log := w.logSince(t, mark)
		if !strings.Contains(log, outside+" 401 - ") {
			t.Errorf("Apache logged no 401 for %s:\n%s", outside, log)
		}
		if strings.Contains(log, "Negotiate") {
			t.Errorf("the browser sent %s a Negotiate token:\n%s", outside, log)
		}
		if strings.Contains(w.kdc.Log(), "HTTP/"+outside+"@") {
			t.Errorf("the KDC issued or was asked for a ticket for HTTP/%s:\n%s", outside, w.kdc.Log())
		}
	})

	t.Run("no ticket, 401", func(t *testing.T) {
		home := w.skelHome(t)
		mark := w.logLen(t)
		text := w.browse(t, home, filepath.Join(home, "empty.cc"), w.mailURL, false)
		if strings.Contains(text, "Hello") || !strings.Contains(text, "Unauthorized") {
			t.Errorf("want the 401 page without a ticket, got: %s", text)
		}
		if log := w.logSince(t, mark); !strings.Contains(log, mailHost+" 401 - ") || strings.Contains(log, " 200 ") {
			t.Errorf("want only 401s from Apache without a ticket:\n%s", log)
		}
	})
}

// newHome returns a fresh, empty home directory of alice's (0700), in a
// directory she can reach.
func (w *world) newHome(t *testing.T) string {
	t.Helper()
	home, err := os.MkdirTemp(w.homes, "home-")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Chown(home, aliceUID, aliceUID); err != nil {
		t.Fatal(err)
	}
	return home
}

// skelHome returns a fresh home directory made from the rendered
// /etc/skel, as adduser and pam_mkhomedir make it: directories 0700, files
// with their mode, everything alice's.
func (w *world) skelHome(t *testing.T) string {
	t.Helper()
	home := w.newHome(t)
	err := filepath.WalkDir(w.skel, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(w.skel, p)
		if err != nil || rel == "." {
			return err
		}
		dst := filepath.Join(home, rel)
		if d.IsDir() {
			if err := os.Mkdir(dst, 0o700); err != nil {
				return err
			}
			return os.Lchown(dst, aliceUID, aliceUID)
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		if err := os.WriteFile(dst, b, info.Mode().Perm()); err != nil {
			return err
		}
		return os.Lchown(dst, aliceUID, aliceUID)
	})
	if err != nil {
		t.Fatalf("copying %s: %v", w.skel, err)
	}
	return home
}

// sharedDir returns a directory Apache's workers (www-data) can traverse:
// t.TempDir's parents are root's own (0700).
func sharedDir(t *testing.T) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "kerberossso-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

// modules is where Debian's Apache keeps its modules.
const modules = "/usr/lib/apache2/modules"

// apacheConf is Apache's whole configuration: two name-based virtual
// hosts, each requiring GSSAPI (SPNEGO Negotiate) with the keytab; the page
// names the user Apache authenticated. The access log records the virtual
// host, status, user, request and the Authorization header.
const apacheConf = `ServerName kerberossso-hub
Listen {{addr}}:443
PidFile {{dir}}/httpd.pid
DefaultRuntimeDir {{dir}}/run
Mutex file:{{dir}}/run
ErrorLog {{dir}}/error.log
LogLevel info auth_gssapi:debug
LoadModule mpm_event_module {{mod}}/mod_mpm_event.so
LoadModule authn_core_module {{mod}}/mod_authn_core.so
LoadModule authz_core_module {{mod}}/mod_authz_core.so
LoadModule authz_user_module {{mod}}/mod_authz_user.so
LoadModule auth_gssapi_module {{mod}}/mod_auth_gssapi.so
LoadModule dir_module {{mod}}/mod_dir.so
LoadModule include_module {{mod}}/mod_include.so
LoadModule ssl_module {{mod}}/mod_ssl.so
SSLEngine on
SSLCertificateFile {{dir}}/server.crt
SSLCertificateKeyFile {{dir}}/server.key
User www-data
Group www-data
LogFormat "%v %>s %u \"%r\" auth=\"%{Authorization}i\"" sso
CustomLog {{dir}}/access.log sso
DocumentRoot {{dir}}/www
DirectoryIndex index.html
<Directory {{dir}}/www>
	Options +Includes
	SetOutputFilter INCLUDES
	AuthType GSSAPI
	AuthName "KiwiStack"
	GssapiCredStore keytab:{{keytab}}
	GssapiAllowedMech krb5
	GssapiBasicAuth Off
	Require valid-user
</Directory>
<VirtualHost *:443>
	ServerName {{mail}}
</VirtualHost>
<VirtualHost *:443>
	ServerName {{outside}}
</VirtualHost>
`

// startApache starts Apache in the foreground in namespace ns and waits
// until it serves; it returns the access log's path.
func startApache(t *testing.T, apache, ns, dir, keytab, mailHost string, kdc *krb5test.KDC) string {
	t.Helper()
	conf := strings.NewReplacer("{{addr}}", hubAddr, "{{dir}}", dir, "{{mod}}", modules, "{{keytab}}", keytab,
		"{{mail}}", mailHost, "{{outside}}", outside).Replace(apacheConf)
	for _, d := range []string{"www", "run", "rcache"} {
		if err := os.Mkdir(filepath.Join(dir, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Chown(filepath.Join(dir, "rcache"), 33, 33); err != nil {
		t.Fatal(err)
	}
	page := `<!doctype html><html><head><title><!--#echo var="SERVER_NAME" --></title></head>` +
		`<body><p id="who">Hello <!--#echo var="REMOTE_USER" --></p></body></html>` + "\n"
	if err := os.WriteFile(filepath.Join(dir, "www/index.html"), []byte(page), 0o644); err != nil {
		t.Fatal(err)
	}
	confPath := filepath.Join(dir, "httpd.conf")
	if err := os.WriteFile(confPath, []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("ip", "netns", "exec", ns, apache, "-f", confPath, "-DFOREGROUND")
	// Apache's workers (www-data) read krb5.conf: a copy in dir, since the
	// realm's own directory is root's.
	krb5conf, err := os.ReadFile(kdc.Config)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "krb5.conf"), krb5conf, 0o644); err != nil {
		t.Fatal(err)
	}
	cmd.Env = []string{"PATH=/usr/sbin:/usr/bin:/sbin:/bin", "LANG=C", "KRB5_CONFIG=" + filepath.Join(dir, "krb5.conf"),
		"KRB5RCACHEDIR=" + filepath.Join(dir, "rcache")}
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	exited := startGroup(t, cmd)
	errorLog := filepath.Join(dir, "error.log")
	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		if b, _ := os.ReadFile(errorLog); bytes.Contains(b, []byte("resuming normal operations")) {
			t.Cleanup(func() {
				if t.Failed() {
					b, _ := os.ReadFile(errorLog)
					t.Logf("Apache's error log:\n%s", b)
				}
			})
			return filepath.Join(dir, "access.log")
		}
		select {
		case <-exited:
			b, _ := os.ReadFile(errorLog)
			t.Fatalf("Apache exited at start:\n%s\n%s", out.String(), b)
		default:
		}
	}
	b, _ := os.ReadFile(errorLog)
	t.Fatalf("Apache did not start within 20s:\n%s\n%s", out.String(), b)
	return ""
}

// startGroup starts cmd in a process group of its own and, at cleanup,
// kills the whole group and waits for cmd. The channel is closed when cmd
// has exited.
func startGroup(t *testing.T, cmd *exec.Cmd) <-chan struct{} {
	t.Helper()
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting %s: %v", cmd.Path, err)
	}
	done := make(chan struct{})
	go func() {
		_ = cmd.Wait()
		close(done)
	}()
	t.Cleanup(func() {
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		<-done
	})
	return done
}

func (w *world) logLen(t *testing.T) int {
	t.Helper()
	b, err := os.ReadFile(w.access)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		t.Fatal(err)
	}
	return len(b)
}

func (w *world) logSince(t *testing.T, mark int) string {
	t.Helper()
	b, err := os.ReadFile(w.access)
	if err != nil {
		t.Fatal(err)
	}
	return string(b[mark:])
}

// browse starts Debian's Chromium in the laptop's namespace, in a private
// mount namespace where the rendered policy is /etc/chromium and the
// private hosts file is /etc/hosts, as alice (setpriv, after the mounts),
// as the launcher starts it (the Work
// profile of the default user-data directory under home, app mode on url),
// with the credential cache ccache; it returns the title and text of the
// first window once the page has loaded, and fails after a minute. With
// closeBrowser it then closes the browser cleanly, so that it writes its
// Local State.
func (w *world) browse(t *testing.T, home, ccache, url string, closeBrowser bool) string {
	t.Helper()
	// The mounts' paths are the shell's positional parameters, never part
	// of its script.
	args := []string{"netns", "exec", w.lap, w.unshare, "--mount", "--propagation", "private", "--", w.sh, "-c",
		`mount --bind -- "$1" /etc/chromium && mount --bind -- "$2" /etc/hosts && shift 2 && exec "$@"`, "sh",
		w.policy, w.hosts, w.setpriv, fmt.Sprintf("--reuid=%d", aliceUID), fmt.Sprintf("--regid=%d", aliceUID), "--clear-groups", "--",
		w.chrome}
	args = append(args, headless...)
	// The user-data directory is the default one under home, named
	// explicitly only because Chromium honours the trusted server key
	// (--ignore-certificate-errors-spki-list) only with it.
	args = append(args, "--remote-debugging-pipe", "--user-data-dir="+filepath.Join(home, ".config/chromium"),
		"--ignore-certificate-errors-spki-list="+w.spki)
	args = append(args, chromium.AppArgs(url)...)
	cmd := exec.Command("ip", args...)
	d, err := cdp.Pipe(cmd)
	if err != nil {
		t.Fatal(err)
	}
	cmd.Env = []string{"PATH=/usr/bin:/bin", "HOME=" + home, "KRB5CCNAME=FILE:" + ccache, "KRB5_CONFIG=" + w.krb5}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	exited := startGroup(t, cmd)
	d.Started()
	t.Cleanup(d.Close)
	deadline := time.Now().Add(60 * time.Second)
	fail := func(err error) {
		t.Helper()
		t.Fatalf("%v\nChromium's stderr:\n%s", err, stderr.String())
	}
	session, err := d.AttachPage(url, deadline)
	if err != nil {
		fail(err)
	}
	var text string
	for time.Now().Before(deadline) {
		v, err := d.Evaluate(session, `document.readyState + " | " + document.title + " | " + (document.body ? document.body.innerText : "")`, deadline)
		if err != nil && strings.Contains(err.Error(), "execution context") {
			time.Sleep(200 * time.Millisecond) // between documents
			continue
		}
		if err != nil {
			fail(err)
		}
		text = v
		if strings.HasPrefix(text, "complete | ") && (strings.Contains(text, "Hello") || strings.Contains(text, "Unauthorized")) {
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	if !strings.HasPrefix(text, "complete | ") {
		fail(fmt.Errorf("%s did not load within a minute; last seen: %q", url, text))
	}
	if closeBrowser {
		if _, err := d.Call("Browser.close", map[string]any{}, "", deadline); err != nil {
			fail(err)
		}
		select {
		case <-exited:
		case <-time.After(30 * time.Second):
			fail(errors.New("Chromium did not exit within 30s of Browser.close"))
		}
	}
	return text
}

// serverCert writes a self-signed certificate for hosts and its key into
// dir (server.crt, server.key 0600) and returns the base64 SHA-256 of its
// public key, for --ignore-certificate-errors-spki-list.
func serverCert(t *testing.T, dir string, hosts ...string) string {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: hosts[0]},
		DNSNames:     hosts,
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	pkcs8, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "server.crt"), pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "server.key"), pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: pkcs8}), 0o600); err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(cert.RawSubjectPublicKeyInfo)
	return base64.StdEncoding.EncodeToString(sum[:])
}
