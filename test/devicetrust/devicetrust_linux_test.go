//go:build linux

package devicetrust

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"fmt"
	"html"
	"io"
	"log"
	"log/slog"
	"math/big"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/kiwistack/endpoint/agent/appcert"
	"github.com/kiwistack/endpoint/agent/claim"
	"github.com/kiwistack/endpoint/agent/enrollment"
	"github.com/kiwistack/endpoint/enroll/protocol"
	"github.com/kiwistack/endpoint/internal/syncbuf"
	"github.com/kiwistack/endpoint/launchers/catalog"
	"github.com/kiwistack/endpoint/launchers/chromepolicy"
	"github.com/kiwistack/endpoint/platform/hwid"
	"github.com/kiwistack/endpoint/platform/paths"
	"github.com/kiwistack/endpoint/test/e2e"
)

// what names the test in the reason it skips.
const what = "the device-trust browser test"

// The helper: the test binary re-executed in a private mount namespace,
// where it bind-mounts helperEtc over /etc/chromium and execs Chromium
// with the JSON argv in helperArgs. No shell is involved.
const (
	helperEnv  = "KIWISTACK_DEVICETRUST_HELPER"
	helperEtc  = "KIWISTACK_DEVICETRUST_ETC"
	helperArgs = "KIWISTACK_DEVICETRUST_ARGV"
	chromium   = "/usr/bin/chromium"
)

// testUID is the desktop user's uid: no account needs to exist for it.
const testUID = 64123

func TestMain(m *testing.M) {
	if os.Getenv(helperEnv) == "1" {
		os.Exit(chromiumHelper())
	}
	if missing() != "" {
		os.Exit(m.Run()) // TestBrowserDeviceTrust reports it
	}
	os.Exit(e2e.Main(m, "kiwistack-api"))
}

// chromiumHelper runs in the new mount namespace: it makes every mount
// private (nothing propagates back to the machine), binds the rendered
// etc/chromium over /etc/chromium and becomes Chromium.
func chromiumHelper() int {
	var argv []string
	if err := json.Unmarshal([]byte(os.Getenv(helperArgs)), &argv); err != nil || len(argv) == 0 {
		fmt.Fprintln(os.Stderr, "helper: bad argv:", err)
		return 2
	}
	if err := syscall.Mount("", "/", "", syscall.MS_REC|syscall.MS_PRIVATE, ""); err != nil {
		fmt.Fprintln(os.Stderr, "helper: making mounts private:", err)
		return 2
	}
	if err := syscall.Mount(os.Getenv(helperEtc), "/etc/chromium", "", syscall.MS_BIND, ""); err != nil {
		fmt.Fprintln(os.Stderr, "helper: bind mount over /etc/chromium:", err)
		return 2
	}
	env := []string{}
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "KIWISTACK_DEVICETRUST_") {
			env = append(env, kv)
		}
	}
	err := syscall.Exec(argv[0], argv, env)
	fmt.Fprintln(os.Stderr, "helper: exec:", err)
	return 2
}

// missing says what this machine lacks, "" when nothing.
func missing() string {
	var m []string
	if os.Geteuid() != 0 {
		m = append(m, "root (a private mount namespace with a bind mount over /etc/chromium)")
	}
	if _, err := os.Stat(chromium); err != nil {
		m = append(m, "Debian's chromium")
	}
	if fi, err := os.Stat("/etc/chromium"); err != nil || !fi.IsDir() {
		m = append(m, "/etc/chromium (Debian's chromium package makes it)")
	}
	for _, tool := range []string{"certutil", "pk12util"} {
		if _, err := exec.LookPath(tool); err != nil {
			m = append(m, tool+" (libnss3-tools; scripts/install-test-deps)")
		}
	}
	if len(m) == 0 {
		return ""
	}
	return what + " needs " + strings.Join(m, ", ")
}

func require(t *testing.T) {
	t.Helper()
	reason := missing()
	if reason == "" {
		return
	}
	if os.Getenv("KIWISTACK_REQUIRE_HW_TESTS") == "1" {
		t.Fatal(reason + ", and KIWISTACK_REQUIRE_HW_TESTS=1")
	}
	t.Skip(reason)
}

// appServer is the tenant's web front door as far as device trust goes:
// TLS that requires a client certificate of the tenant's CA. It logs each
// handshake and each request.
type appServer struct {
	addr string
	log  syncbuf.Buffer
}

func (s *appServer) logf(format string, args ...any) {
	fmt.Fprintf(&s.log, time.Now().Format("15:04:05.000")+" "+format+"\n", args...)
}

func startAppServer(t *testing.T, tenantRoot *x509.Certificate, hosts ...string) *appServer {
	t.Helper()
	s := &appServer{}
	roots := x509.NewCertPool()
	roots.AddCert(tenantRoot)
	srv := &http.Server{
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			leaf := r.TLS.PeerCertificates[0]
			s.logf("request host=%s path=%s client=%q", r.Host, r.URL.Path, leaf.Subject.CommonName)
			w.Header().Set("Content-Type", "text/html; charset=utf-8")
			fmt.Fprintf(w, "<!doctype html><title>mail</title><p id=\"who\">app page for %s</p>", html.EscapeString(leaf.Subject.CommonName))
		}),
		TLSConfig: &tls.Config{
			Certificates: []tls.Certificate{serverCert(t, hosts)},
			ClientAuth:   tls.RequireAndVerifyClientCert,
			ClientCAs:    roots,
			VerifyConnection: func(cs tls.ConnectionState) error {
				cn := ""
				if len(cs.PeerCertificates) > 0 {
					cn = cs.PeerCertificates[0].Subject.CommonName
				}
				s.logf("handshake sni=%s client_certs=%d client=%q", cs.ServerName, len(cs.PeerCertificates), cn)
				if len(cs.PeerCertificates) > 0 && !protocol.IsAppCertificate(cs.PeerCertificates[0]) {
					return fmt.Errorf("not an app certificate")
				}
				return nil
			},
		},
		ReadHeaderTimeout: 10 * time.Second,
	}
	srv.ErrorLog = log.New(logWriter{s}, "", 0)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s.addr = l.Addr().String()
	go func() { _ = srv.ServeTLS(l, "", "") }()
	t.Cleanup(func() {
		_ = srv.Close()
		if t.Failed() {
			t.Logf("app server log:\n%s", s.log.String())
		}
	})
	return s
}

type logWriter struct{ s *appServer }

func (w logWriter) Write(p []byte) (int, error) {
	w.s.logf("%s", strings.TrimSpace(string(p)))
	return len(p), nil
}

// serverCert is a self-signed server certificate for hosts (Chromium runs
// with --ignore-certificate-errors: server trust is not what is tested).
func serverCert(t *testing.T, hosts []string) tls.Certificate {
	t.Helper()
	k, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(time.Now().UnixNano()), Subject: pkix.Name{CommonName: hosts[0]},
		DNSNames: hosts, NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &k.PublicKey, k)
	if err != nil {
		t.Fatal(err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: k}
}

// browser runs headless Chromium in a private mount namespace with etc
// over /etc/chromium and HOME=home, loads url with --dump-dom and returns
// the DOM; done is false when it had not finished within timeout (it waits
// on an invisible certificate picker when no certificate matches) and was
// killed with its whole process group.
func browser(t *testing.T, etc, home, profile, rules, url string, timeout time.Duration) (dom string, done bool) {
	t.Helper()
	argv := []string{chromium, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
		"--disable-background-networking", "--disable-component-update", "--disable-sync",
		"--user-data-dir=" + profile, "--ignore-certificate-errors", "--host-resolver-rules=" + rules,
		"--dump-dom", url}
	b, _ := json.Marshal(argv)
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, self)
	cmd.Env = []string{helperEnv + "=1", helperEtc + "=" + etc, helperArgs + "=" + string(b),
		"HOME=" + home, "PATH=/usr/bin:/bin", "LANG=C.UTF-8"}
	cmd.SysProcAttr = &syscall.SysProcAttr{Unshareflags: syscall.CLONE_NEWNS, Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = 5 * time.Second
	var stdout, stderr syncbuf.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err = cmd.Run()
	// Renderers and helpers left behind in the group go too.
	_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	if ctx.Err() != nil {
		return stdout.String(), false
	}
	if err != nil {
		t.Fatalf("chromium: %v\nstderr:\n%s", err, stderr.String())
	}
	return stdout.String(), true
}

// sandbox makes a laptop root with a Linux-shaped hardware identity.
func sandbox(t *testing.T, serial string) string {
	t.Helper()
	root := t.TempDir()
	id := make([]byte, 16)
	_, _ = rand.Read(id)
	for p, v := range map[string]string{
		"sys/class/dmi/id/product_serial": serial,
		"sys/class/dmi/id/product_uuid":   fmt.Sprintf("%x-%x-%x-%x-%x", id[0:4], id[4:6], id[6:8], id[8:10], id[10:16]),
		"etc/machine-id":                  fmt.Sprintf("%x", id),
	} {
		if err := os.MkdirAll(filepath.Dir(filepath.Join(root, p)), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(root, p), []byte(v+"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return root
}

// userHome makes alice's home directory, owned by testUID, under a
// directory every user can traverse.
func userHome(t *testing.T) string {
	t.Helper()
	base, err := os.MkdirTemp("", "kiwistack-devicetrust-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = os.RemoveAll(base) })
	if err := os.Chmod(base, 0o755); err != nil {
		t.Fatal(err)
	}
	home := filepath.Join(base, "alice")
	if err := os.Mkdir(home, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.Chown(home, testUID, testUID); err != nil {
		t.Fatal(err)
	}
	return home
}

// selfSigned is a throwaway certificate (the attestation root the dev
// server wants; no YubiKey is used here).
func selfSigned(t *testing.T) *x509.Certificate {
	t.Helper()
	k, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "unused attestation root"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), IsCA: true, BasicConstraintsValid: true}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &k.PublicKey, k)
	if err != nil {
		t.Fatal(err)
	}
	c, _ := x509.ParseCertificate(der)
	return c
}

// TestBrowserDeviceTrust: claim, app certificate into alice's NSS
// database, Chromium loads the app page with no picker; a host outside
// the tenant's is offered nothing; revoke, the agent removes the
// certificate, Chromium can no longer load the page.
func TestBrowserDeviceTrust(t *testing.T) {
	require(t)
	ctx := context.Background()
	tn := e2e.StartTenant(t, e2e.WriteAttestationRoot(t, selfSigned(t)))

	// The OEM claim, with a bootstrap token for this laptop's serial.
	serial := fmt.Sprintf("KS-DEVTRUST-%d", os.Getpid())
	root := sandbox(t, serial)
	layout := paths.Under(root)
	if err := os.MkdirAll(filepath.Dir(claim.BootstrapPath(layout)), 0o755); err != nil {
		t.Fatal(err)
	}
	e2e.MustRun(t, "", "kiwistack-api", "bootstrap", "create", "--state", tn.State, "--serial", serial,
		"--api", tn.APIURL, "--expires", "1h", "--out", claim.BootstrapPath(layout))
	res, err := claim.Claim(ctx, claim.Options{Root: root, MaxAttempts: 1,
		Hardware: func(context.Context) (hwid.Fingerprint, error) { return hwid.ReadLinux(root) }})
	if err != nil {
		t.Fatalf("claim: %v", err)
	}
	rec, err := enrollment.Read(layout)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("claimed device %s of %s", res.DeviceID, res.Tenant)

	// The agent's controller, for alice.
	home := userHome(t)
	alice := appcert.User{Name: "alice", UID: testUID, GID: testUID, Home: home}
	var logs syncbuf.Buffer
	ctl := appcert.New(appcert.Options{
		Record:        func() *enrollment.Record { return rec },
		Users:         func() ([]appcert.User, error) { return []appcert.User{alice}, nil },
		CheckInterval: time.Millisecond,
		Logger:        slogTo(&logs),
	})
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("appcert log:\n%s", logs.String())
		}
	})
	t0 := time.Now()
	if _, err := ctl.Reconcile(ctx); err != nil {
		t.Fatalf("reconcile: %v", err)
	}
	t.Logf("app certificate obtained and installed in %s", time.Since(t0).Round(time.Millisecond))
	st := ctl.Status()
	if st.State != appcert.StateInstalled || len(st.Users) != 1 || !st.Users[0].Installed {
		t.Fatalf("status %+v, want installed for alice", st)
	}
	nss := &appcert.NSS{Tenant: rec.Tenant}
	leaf, err := nss.Installed(ctx, alice)
	if err != nil || leaf == nil {
		t.Fatalf("alice's NSS database: %v, %v", leaf, err)
	}
	devLeaf := e2e.ReadCerts(t, rec.Certificate)[0]
	if leaf.NotAfter.After(devLeaf.NotAfter) || !protocol.IsAppCertificate(leaf) {
		t.Errorf("app certificate until %s (device %s), app certificate %v", leaf.NotAfter, devLeaf.NotAfter, protocol.IsAppCertificate(leaf))
	}
	// The database is alice's; the device key stays root's, 0600.
	for _, f := range []string{appcert.DBDir(alice), filepath.Join(appcert.DBDir(alice), "cert9.db"), filepath.Join(appcert.DBDir(alice), "key4.db")} {
		fi, err := os.Stat(f)
		if err != nil {
			t.Fatal(err)
		}
		if s := fi.Sys().(*syscall.Stat_t); s.Uid != testUID {
			t.Errorf("%s is owned by uid %d, want alice's %d", f, s.Uid, testUID)
		}
	}
	if fi, err := os.Stat(rec.Key); err != nil || fi.Mode().Perm() != 0o600 || fi.Sys().(*syscall.Stat_t).Uid != 0 {
		t.Errorf("device key %s: %v %v, want root's, 0600", rec.Key, fi.Mode(), err)
	}

	// The generated policy, in a tree bind-mounted over /etc/chromium.
	cat, err := catalog.Defaults(rec.Tenant, catalog.Subdomain)
	if err != nil {
		t.Fatal(err)
	}
	etc := filepath.Join(t.TempDir(), "etc-chromium")
	if err := os.MkdirAll(filepath.Join(etc, "policies", "managed"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(etc, "policies", "managed", chromepolicy.FileName), chromepolicy.For(cat).JSON(), 0o644); err != nil {
		t.Fatal(err)
	}
	appHost, outside := "mail."+cat.Domain, "outside.example.test"
	srv := startAppServer(t, e2e.ReadCerts(t, rec.Root)[0], appHost, outside)
	rules := fmt.Sprintf("MAP %s 127.0.0.1, MAP %s 127.0.0.1", appHost, outside)
	_, port, _ := net.SplitHostPort(srv.addr)
	appURL := fmt.Sprintf("https://%s:%s/", appHost, port)
	want := "app page for " + protocol.AppCommonName("alice", rec.DeviceID)

	t1 := time.Now()
	dom, done := browser(t, etc, home, t.TempDir(), rules, appURL, 60*time.Second)
	if !done || !strings.Contains(dom, want) {
		t.Fatalf("Chromium with the app certificate: done %v, DOM %q; want %q", done, dom, want)
	}
	if !strings.Contains(srv.log.String(), fmt.Sprintf("sni=%s client_certs=", appHost)) {
		t.Errorf("the server logged no handshake for %s: %s", appHost, srv.log.String())
	}
	t.Logf("Chromium loaded the app page with the app certificate, no picker, in %s", time.Since(t1).Round(time.Millisecond))

	// Control: without the policy the same browser and database show the
	// (invisible) picker and never load the page, so it is the policy that
	// selects the certificate.
	bare := filepath.Join(t.TempDir(), "etc-chromium-bare")
	if err := os.MkdirAll(bare, 0o755); err != nil {
		t.Fatal(err)
	}
	if dom, done := browser(t, bare, home, t.TempDir(), rules, appURL, 10*time.Second); done || strings.Contains(dom, want) {
		t.Errorf("without the policy: done %v, DOM %q; want the browser stuck on the picker", done, dom)
	}

	// A host outside the tenant's: the policy offers it nothing, so
	// Chromium waits on its (invisible) picker and the server never sees
	// the certificate.
	mark := srv.log.String()
	dom, done = browser(t, etc, home, t.TempDir(), rules, fmt.Sprintf("https://%s:%s/", outside, port), 15*time.Second)
	after := strings.TrimPrefix(srv.log.String(), mark)
	if strings.Contains(dom, "app page") || strings.Contains(after, "sni="+outside+" client_certs=1") || strings.Contains(after, "request host="+outside) {
		t.Errorf("the host outside the tenant's got the app certificate: done %v, DOM %q, server log %q", done, dom, after)
	}
	t.Logf("outside host: browser finished %v; server log since: %q", done, after)

	// Revoke; the agent's next reconcile removes the certificate.
	out := e2e.MustRun(t, "", "kiwistack-api", "devices", "revoke", "--state", tn.State, rec.DeviceID, "--reason", "stolen")
	t.Logf("devices revoke: %s", strings.TrimSpace(out))
	time.Sleep(5 * time.Millisecond) // past CheckInterval
	if _, err := ctl.Reconcile(ctx); err != nil {
		t.Fatalf("reconcile after revocation: %v", err)
	}
	st = ctl.Status()
	if st.State != appcert.StateRevoked || len(st.Users) != 1 || st.Users[0].Installed {
		t.Fatalf("status after revocation %+v, want revoked and removed", st)
	}
	if leaf, err := nss.Installed(ctx, alice); err != nil || leaf != nil {
		t.Fatalf("alice's NSS database after revocation: %v, %v; want no app certificate", leaf, err)
	}
	mark = srv.log.String()
	dom, done = browser(t, etc, home, t.TempDir(), rules, appURL, 15*time.Second)
	after = strings.TrimPrefix(srv.log.String(), mark)
	if strings.Contains(dom, "app page") || strings.Contains(after, "request host=") || strings.Contains(after, "client_certs=1") {
		t.Fatalf("Chromium still reaches the app after revocation: done %v, DOM %q, server log %q", done, dom, after)
	}
	if done && !strings.Contains(after, "client didn't provide a certificate") {
		t.Errorf("after revocation the browser finished but the server did not refuse a handshake without a certificate: %q", after)
	}
	t.Logf("after revocation: browser finished %v, DOM %d bytes; server log since: %q", done, len(dom), after)

	// The agent keeps the device revoked, and the API refuses a new
	// certificate with a clear reason.
	if _, err := ctl.Reconcile(ctx); err != nil || ctl.Status().State != appcert.StateRevoked {
		t.Errorf("second reconcile: %v, state %s", err, ctl.Status().State)
	}
}

// slogTo is a text logger writing to w.
func slogTo(w io.Writer) *slog.Logger { return slog.New(slog.NewTextHandler(w, nil)) }
