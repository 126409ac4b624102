// Package krb5test starts a real MIT Kerberos KDC (Debian's krb5-kdc) for
// tests: a realm whose database, stash, configuration and logs live in the
// test's temporary directory, served by krb5kdc running in the foreground
// as a child of the test, optionally inside a network namespace (ip netns
// exec). Helpers add user principals with passwords and service
// principals (kadmin.local), export keytabs, and get a user's ticket into a
// credential cache (kinit, the password on its standard input).
//
// It is test-only code: nothing that ships may import it. It writes
// nothing outside the test's directories and never touches the machine's
// /etc/krb5.conf or /etc/krb5kdc: every command it runs gets KRB5_CONFIG
// and KRB5_KDC_PROFILE pointing into the realm's directory. No shell is
// involved: every command is run with its argument vector, and passwords
// travel on standard input only, never in an argument.
//
// Where the machine lacks what a KDC needs (Linux, the krb5-kdc and
// krb5-user binaries, root for a network namespace), Start and Require
// skip the test with the reason, or fail it when
// KIWISTACK_REQUIRE_HW_TESTS=1 (make test and CI set it).
package krb5test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/kiwistack/endpoint/test/pcsctest"
)

// DefaultRealm is the realm Start creates when Options.Realm is empty.
const DefaultRealm = "KIWISTACK.TEST"

// Tools are the MIT Kerberos programs the package runs, with the Debian
// package each comes from.
var Tools = map[string]string{
	"krb5kdc":      "krb5-kdc",
	"kdb5_util":    "krb5-kdc",
	"kadmin.local": "krb5-admin-server",
	"kinit":        "krb5-user",
	"klist":        "krb5-user",
}

// toolDirs are searched after PATH: the daemons live in /usr/sbin, which a
// test's PATH may lack.
var toolDirs = []string{"/usr/sbin", "/usr/bin", "/sbin", "/bin"}

// Options describe the realm and where its KDC runs. The zero value is a
// realm named DefaultRealm served on a free port of 127.0.0.1 in the
// test's own network namespace.
type Options struct {
	// Realm is the realm's name, upper case by convention; "" is
	// DefaultRealm.
	Realm string
	// Netns, when set, is the network namespace (ip netns) krb5kdc runs
	// in. The namespace must exist; the test owns it.
	Netns string
	// Host is the address clients reach the KDC at, written into the
	// clients' krb5.conf: "" is 127.0.0.1. The KDC listens on every
	// address of its namespace.
	Host string
	// Port is the KDC's TCP and UDP port: 0 is 88 in a network namespace
	// of the test's own, and a free port of the host's namespace
	// otherwise.
	Port int
	// Domains are DNS domains whose hosts belong to the realm, written
	// into the clients' krb5.conf [domain_realm] as ".domain = REALM" and
	// "domain = REALM" so that service tickets for them need no DNS.
	Domains []string
}

// KDC is a running MIT KDC and its realm.
type KDC struct {
	// Realm is the realm's name.
	Realm string
	// Addr is "host:port", where clients reach the KDC.
	Addr string
	// Dir is the realm's directory: database, stash, configuration, logs.
	Dir string
	// Config is the clients' krb5.conf (KRB5_CONFIG): default realm,
	// the KDC's address, no DNS lookups of realms, KDCs or host names.
	Config string
	// KDCProfile is the KDC's kdc.conf (KRB5_KDC_PROFILE).
	KDCProfile string
	// Netns is the network namespace the KDC runs in, "" for the test's.
	Netns string

	tools map[string]string
	mu    sync.Mutex
	cmd   *exec.Cmd
	done  chan struct{}
}

// Missing says what this machine lacks to run a KDC with o, as
// "<what> needs …", or "" when it lacks nothing.
func Missing(what string, o Options) string {
	var m []string
	if runtime.GOOS != "linux" {
		m = append(m, "Linux (Debian's MIT krb5-kdc)")
	}
	if o.Netns != "" && os.Geteuid() != 0 {
		m = append(m, "root (a KDC inside network namespace "+o.Netns+")")
	}
	if o.Netns != "" {
		if _, err := exec.LookPath("ip"); err != nil {
			m = append(m, "ip in PATH (Debian package iproute2)")
		}
	}
	for _, tool := range sortedTools() {
		if _, err := lookTool(tool); err != nil {
			m = append(m, tool+" (Debian package "+Tools[tool]+"; scripts/install-test-deps installs it)")
		}
	}
	if len(m) == 0 {
		return ""
	}
	return what + " needs " + strings.Join(m, ", ")
}

// Require skips the test with Missing's reason, or fails it when
// KIWISTACK_REQUIRE_HW_TESTS=1, unless the machine has all a KDC with o
// needs. Start calls it; tests call it first when they must know before
// doing other work.
func Require(t testing.TB, what string, o Options) {
	t.Helper()
	reason := Missing(what, o)
	if reason == "" {
		return
	}
	if os.Getenv(pcsctest.RequireEnv) == "1" {
		t.Fatal(reason + ", and " + pcsctest.RequireEnv + "=1 forbids skipping")
	}
	t.Skip(reason + " (set " + pcsctest.RequireEnv + "=1 to fail instead)")
}

// sortedTools returns the keys of Tools in a fixed order.
func sortedTools() []string {
	return []string{"kadmin.local", "kdb5_util", "kinit", "klist", "krb5kdc"}
}

// lookTool finds tool in PATH or in toolDirs.
func lookTool(tool string) (string, error) {
	if p, err := exec.LookPath(tool); err == nil {
		return p, nil
	}
	for _, d := range toolDirs {
		p := filepath.Join(d, tool)
		if fi, err := os.Stat(p); err == nil && fi.Mode().IsRegular() && fi.Mode()&0o111 != 0 {
			return p, nil
		}
	}
	return "", fmt.Errorf("%s: not found in PATH or %s", tool, strings.Join(toolDirs, ", "))
}

var (
	realmRE = regexp.MustCompile(`^[A-Z0-9][A-Z0-9.-]{0,62}$`)
	// nameRE is a principal name without realm: components of letters,
	// digits and ".-_", not starting with "." or "-", separated by "/".
	nameRE = regexp.MustCompile(`^[A-Za-z0-9_][A-Za-z0-9._-]*(/[A-Za-z0-9_][A-Za-z0-9._-]*)*$`)
	hostRE = regexp.MustCompile(`^[A-Za-z0-9.:-]+$`)
)

// Start creates the realm in a directory of the test's and starts krb5kdc
// in the foreground, in o.Netns when set, and waits until it serves. The
// KDC is killed at cleanup; its log is shown when the test failed.
func Start(t testing.TB, o Options) *KDC {
	t.Helper()
	Require(t, "a test with an MIT KDC", o)
	if o.Realm == "" {
		o.Realm = DefaultRealm
	}
	if !realmRE.MatchString(o.Realm) {
		t.Fatalf("krb5test: realm %q: want upper-case letters, digits, dots and dashes", o.Realm)
	}
	if o.Host == "" {
		o.Host = "127.0.0.1"
	}
	if !hostRE.MatchString(o.Host) {
		t.Fatalf("krb5test: host %q is not an address or host name", o.Host)
	}
	for _, d := range o.Domains {
		if !hostRE.MatchString(d) || strings.Contains(d, ":") {
			t.Fatalf("krb5test: domain %q is not a DNS name", d)
		}
	}
	if o.Port == 0 {
		if o.Netns != "" {
			o.Port = 88
		} else {
			o.Port = freePort(t)
		}
	}
	k := &KDC{
		Realm: o.Realm,
		Addr:  net.JoinHostPort(o.Host, strconv.Itoa(o.Port)),
		Dir:   t.TempDir(),
		Netns: o.Netns,
		tools: map[string]string{},
	}
	for _, tool := range sortedTools() {
		p, err := lookTool(tool)
		if err != nil {
			t.Fatalf("krb5test: %v", err)
		}
		k.tools[tool] = p
	}
	k.Config = filepath.Join(k.Dir, "krb5.conf")
	k.KDCProfile = filepath.Join(k.Dir, "kdc.conf")
	if err := os.WriteFile(k.Config, []byte(clientConfig(o, k.Addr)), 0o644); err != nil {
		t.Fatalf("krb5test: writing krb5.conf: %v", err)
	}
	if err := os.WriteFile(k.KDCProfile, []byte(kdcConfig(o, k.Dir)), 0o600); err != nil {
		t.Fatalf("krb5test: writing kdc.conf: %v", err)
	}
	if err := os.WriteFile(filepath.Join(k.Dir, "kadm5.acl"), []byte("*/admin@"+o.Realm+" *\n"), 0o600); err != nil {
		t.Fatalf("krb5test: writing kadm5.acl: %v", err)
	}
	// The master password only protects the stash in the test's
	// directory; it goes on standard input like every password.
	master := "krb5test-master-" + strconv.FormatInt(time.Now().UnixNano(), 36)
	if out, err := k.run("", master+"\n"+master+"\n", "kdb5_util", "create", "-s", "-r", k.Realm); err != nil {
		t.Fatalf("krb5test: creating realm %s: %v\n%s", k.Realm, err, out)
	}
	k.start(t)
	t.Cleanup(func() {
		k.Stop()
		if t.Failed() {
			t.Logf("krb5test: KDC log of %s:\n%s", k.Realm, k.Log())
		}
	})
	return k
}

// freePort returns a TCP port of 127.0.0.1 free at the time of the call.
func freePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("krb5test: finding a free port: %v", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// clientConfig renders the clients' krb5.conf: the realm's KDC at addr,
// no DNS for realms, KDCs or host-name canonicalisation, and the domains.
func clientConfig(o Options, addr string) string {
	var b strings.Builder
	fmt.Fprintf(&b, `[libdefaults]
	default_realm = %[1]s
	dns_lookup_kdc = false
	dns_lookup_realm = false
	dns_canonicalize_hostname = false
	rdns = false
	udp_preference_limit = 1
	ticket_lifetime = 10h
	forwardable = true

[realms]
	%[1]s = {
		kdc = %[2]s
		admin_server = %[2]s
	}

[domain_realm]
`, o.Realm, addr)
	for _, d := range o.Domains {
		d = strings.TrimPrefix(d, ".")
		fmt.Fprintf(&b, "\t.%s = %s\n\t%s = %s\n", d, o.Realm, d, o.Realm)
	}
	return b.String()
}

// kdcConfig renders kdc.conf: the database, stash, ACL and logs in dir, the
// KDC on port of every address, AES keys only.
func kdcConfig(o Options, dir string) string {
	return fmt.Sprintf(`[kdcdefaults]
	kdc_listen = %[3]d
	kdc_tcp_listen = %[3]d

[realms]
	%[1]s = {
		database_name = %[2]s/principal
		key_stash_file = %[2]s/stash
		acl_file = %[2]s/kadm5.acl
		kdc_listen = %[3]d
		kdc_tcp_listen = %[3]d
		max_life = 10h 0m 0s
		max_renewable_life = 7d 0h 0m 0s
		master_key_type = aes256-cts-hmac-sha1-96
		supported_enctypes = aes256-cts-hmac-sha1-96:normal aes128-cts-hmac-sha1-96:normal
		default_principal_flags = +preauth
	}

[logging]
	kdc = FILE:%[2]s/kdc.log
	admin_server = FILE:%[2]s/kadmin.log
	default = FILE:%[2]s/krb5lib.log
`, o.Realm, dir, o.Port)
}

// Env returns the environment every Kerberos command of the realm's needs:
// KRB5_CONFIG (the clients' krb5.conf), KRB5_KDC_PROFILE, and a PATH with
// /usr/sbin. Callers append KRB5CCNAME or KRB5_KTNAME as they need.
func (k *KDC) Env() []string {
	return []string{
		"KRB5_CONFIG=" + k.Config,
		"KRB5_KDC_PROFILE=" + k.KDCProfile,
		"PATH=/usr/sbin:/usr/bin:/sbin:/bin",
		"HOME=" + k.Dir,
		"LANG=C",
	}
}

// command returns tool's command with the realm's environment, inside
// netns when it is set.
func (k *KDC) command(ctx context.Context, netns, tool string, args ...string) *exec.Cmd {
	path := k.tools[tool]
	if netns != "" {
		args = append([]string{"netns", "exec", netns, path}, args...)
		path = "ip"
	}
	cmd := exec.CommandContext(ctx, path, args...)
	cmd.Env = k.Env()
	return cmd
}

// run runs tool in netns with stdin and a 30 s timeout, and returns its
// combined output.
func (k *KDC) run(netns, stdin, tool string, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := k.command(ctx, netns, tool, args...)
	cmd.Stdin = strings.NewReader(stdin)
	out, err := cmd.CombinedOutput()
	if err != nil {
		return string(out), fmt.Errorf("%s %s: %w", tool, strings.Join(args, " "), err)
	}
	return string(out), nil
}

// start starts krb5kdc in the foreground and waits until its log says it
// serves.
func (k *KDC) start(t testing.TB) {
	t.Helper()
	logPath := filepath.Join(k.Dir, "kdc.log")
	before := k.Log()
	cmd := k.command(context.Background(), k.Netns, "krb5kdc", "-n", "-r", k.Realm, "-P", filepath.Join(k.Dir, "krb5kdc.pid"))
	stderr := &bytes.Buffer{}
	cmd.Stdout = stderr
	cmd.Stderr = stderr
	if err := cmd.Start(); err != nil {
		t.Fatalf("krb5test: starting krb5kdc: %v", err)
	}
	done := make(chan struct{})
	go func() {
		_ = cmd.Wait()
		close(done)
	}()
	k.mu.Lock()
	k.cmd, k.done = cmd, done
	k.mu.Unlock()
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		if strings.Count(k.Log(), "commencing operation") > strings.Count(before, "commencing operation") {
			return
		}
		select {
		case <-done:
			t.Fatalf("krb5test: krb5kdc exited at start: %s\n%s\n%s", cmd.ProcessState, stderr, k.Log())
		case <-time.After(50 * time.Millisecond):
		}
	}
	k.Stop()
	t.Fatalf("krb5test: krb5kdc did not say \"commencing operation\" in %s within 20s:\n%s\n%s", logPath, stderr, k.Log())
}

// Stop kills the KDC and waits for it to exit, so that tests can see what
// clients do when the KDC is down. The realm and its database stay;
// Restart serves them again. Stop on a stopped KDC does nothing.
func (k *KDC) Stop() {
	k.mu.Lock()
	cmd, done := k.cmd, k.done
	k.cmd = nil
	k.mu.Unlock()
	if cmd == nil {
		return
	}
	_ = cmd.Process.Kill()
	<-done
}

// Restart starts the KDC again after Stop, on the same address and with
// the same database; a running KDC is stopped first.
func (k *KDC) Restart(t testing.TB) {
	t.Helper()
	k.Stop()
	k.start(t)
}

// Running reports whether the KDC process is running.
func (k *KDC) Running() bool {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.cmd == nil {
		return false
	}
	select {
	case <-k.done:
		return false
	default:
		return true
	}
}

// Log returns the KDC's log file so far (requests and the tickets it
// issued or refused), "" when it has none yet.
func (k *KDC) Log() string {
	b, err := os.ReadFile(filepath.Join(k.Dir, "kdc.log"))
	if err != nil {
		return ""
	}
	return string(b)
}

// Principal returns name qualified with the realm: "alice" is
// "alice@REALM", "HTTP/mail.example" is "HTTP/mail.example@REALM". A name
// that already has a realm is returned as it is.
func (k *KDC) Principal(name string) string {
	if strings.Contains(name, "@") {
		return name
	}
	return name + "@" + k.Realm
}

// checkName fails the test unless name is a principal name of this realm
// (with or without "@REALM") made of letters, digits, ".-_" and "/".
func (k *KDC) checkName(t testing.TB, name string) string {
	t.Helper()
	p, err := k.qualify(name)
	if err != nil {
		t.Fatalf("krb5test: %v", err)
	}
	return p
}

// qualify returns name with the realm, or an error unless name is a
// principal name of this realm (with or without "@REALM") made of letters,
// digits, ".-_" and "/".
func (k *KDC) qualify(name string) (string, error) {
	bare, realm, hasRealm := strings.Cut(name, "@")
	if !nameRE.MatchString(bare) || (hasRealm && realm != k.Realm) {
		return "", fmt.Errorf("principal %q: want letters, digits, \".-_\" and \"/\", optionally @%s", name, k.Realm)
	}
	return k.Principal(bare), nil
}

// Kadmin runs one kadmin.local query (e.g. "getprinc alice") against the
// realm's database and returns its output; the test fails when kadmin.local
// does. The query is parsed by kadmin.local itself, never by a shell.
func (k *KDC) Kadmin(t testing.TB, query string) string {
	t.Helper()
	out, err := k.run("", "", "kadmin.local", "-r", k.Realm, "-q", query)
	if err != nil {
		t.Fatalf("krb5test: kadmin.local -q %q: %v\n%s", query, err, out)
	}
	return out
}

// AddUser adds the user principal name (e.g. "alice") with password and
// returns it qualified with the realm. The password reaches kadmin.local
// on its standard input only.
func (k *KDC) AddUser(t testing.TB, name, password string) string {
	t.Helper()
	p := k.checkName(t, name)
	if password == "" || strings.ContainsAny(password, "\r\n") {
		t.Fatalf("krb5test: password of %s: want a non-empty single line", p)
	}
	out, err := k.run("", password+"\n"+password+"\n", "kadmin.local", "-r", k.Realm, "-q", "addprinc "+p)
	if err != nil || !strings.Contains(out, "created") {
		t.Fatalf("krb5test: adding %s: %v\n%s", p, err, out)
	}
	return p
}

// AddService adds the service principal name (e.g.
// "HTTP/mail.od.acme.kiwistack.io") with random keys and returns it
// qualified with the realm.
func (k *KDC) AddService(t testing.TB, name string) string {
	t.Helper()
	p := k.checkName(t, name)
	if out := k.Kadmin(t, "addprinc -randkey "+p); !strings.Contains(out, "created") {
		t.Fatalf("krb5test: adding %s:\n%s", p, out)
	}
	return p
}

// Keytab writes the keys of the principals names into the keytab file
// path (created 0600 when new; entries are appended to an existing one)
// without changing the keys, so that several keytabs of one principal stay
// valid together. It returns path.
func (k *KDC) Keytab(t testing.TB, path string, names ...string) string {
	t.Helper()
	if len(names) == 0 {
		t.Fatal("krb5test: Keytab needs at least one principal")
	}
	if strings.ContainsAny(path, " \t\r\n\"'") {
		t.Fatalf("krb5test: keytab path %q: kadmin.local's query cannot carry blanks or quotes", path)
	}
	for _, n := range names {
		p := k.checkName(t, n)
		k.Kadmin(t, "ktadd -k "+path+" -norandkey "+p)
	}
	if err := os.Chmod(path, 0o600); err != nil {
		t.Fatalf("krb5test: keytab %s: %v", path, err)
	}
	return path
}

// ErrKinit is wrapped by Kinit's error when kinit ran and refused (a wrong
// password, an unknown principal, a KDC that does not answer).
var ErrKinit = errors.New("kinit failed")

// Kinit gets a ticket-granting ticket for principal into the credential
// cache ccache (e.g. "FILE:/tmp/x/cc" or a path), running kinit in netns
// when it is set, so that clients in another namespace reach the KDC as
// they would. The password goes on kinit's standard input. The error
// wraps ErrKinit with kinit's output when kinit fails.
func (k *KDC) Kinit(netns, principal, password, ccache string) error {
	p, err := k.qualify(principal)
	if err != nil {
		return err
	}
	if strings.ContainsAny(password, "\r\n") {
		return fmt.Errorf("kinit %s: the password must be a single line", p)
	}
	out, err := k.run(netns, password+"\n", "kinit", "-c", ccache, p)
	if err != nil {
		return fmt.Errorf("%w: %s as %s: %v: %s", ErrKinit, ccache, p, err, strings.TrimSpace(out))
	}
	return nil
}

// Klist returns `klist -c ccache` (the cache's principal and tickets), or
// an error with klist's output when the cache holds no credentials.
func (k *KDC) Klist(ccache string) (string, error) {
	out, err := k.run("", "", "klist", "-c", ccache)
	if err != nil {
		return out, fmt.Errorf("klist %s: %w: %s", ccache, err, strings.TrimSpace(out))
	}
	return out, nil
}
