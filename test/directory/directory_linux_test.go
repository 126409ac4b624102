//go:build linux

package directory

import (
	"bufio"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.zx2c4.com/wireguard/wgctrl/wgtypes"

	agentdir "github.com/kiwistack/endpoint/agent/directory"
	"github.com/kiwistack/endpoint/agent/status"
	"github.com/kiwistack/endpoint/enroll/protocol"
	"github.com/kiwistack/endpoint/internal/syncbuf"
	"github.com/kiwistack/endpoint/test/e2e"
	"github.com/kiwistack/endpoint/test/krb5test"
	"github.com/kiwistack/endpoint/test/pcsctest"
	"github.com/kiwistack/endpoint/test/wgtest"
)

// sssdHelperEnv holds the laptop helper's JSON spec (laptopSpec): it makes
// the test binary run as that helper instead of running tests (the
// WireGuard helpers are wgtest's).
const sssdHelperEnv = "KIWISTACK_DIRECTORY_SSSD"

const (
	hubUnderlay = "10.223.0.1"
	lapUnderlay = "10.223.0.2"
	hubTunnel   = "10.224.0.1"
	lapTunnel   = "10.224.0.2"
	listenPort  = 51820

	realm    = "ACME.EXAMPLE"
	baseDN   = "dc=acme,dc=example"
	alicePW  = "correct horse battery"
	bobPW    = "bob's own password"
	carolPW  = "carol is not a laptop user"
	aliceUID = 10001
	pamSvc   = "kiwistack-test"
)

func TestMain(m *testing.M) {
	wgtest.RunHelperIfAsked()
	if spec := os.Getenv(sssdHelperEnv); spec != "" {
		err := runLaptop(spec)
		fmt.Fprintf(os.Stderr, "laptop helper: %v\n", err)
		os.Exit(1)
	}
	os.Exit(m.Run())
}

// requireTools skips (or fails under KIWISTACK_REQUIRE_HW_TESTS=1) when a
// program of the test is missing.
func requireTools(t *testing.T) {
	t.Helper()
	var missing []string
	for tool, pkg := range map[string]string{
		"/usr/sbin/slapd": "slapd", "/usr/sbin/slapadd": "slapd", "/usr/sbin/sssd": "sssd",
		"/usr/sbin/sssctl": "sssd-tools", "/usr/bin/pamtester": "pamtester", "/usr/bin/getent": "libc-bin",
		"/usr/bin/nsenter": "util-linux", "/usr/bin/unshare": "util-linux", "/usr/sbin/pam-auth-update": "libpam-runtime",
		"/usr/share/pam-configs/sss": "libpam-sss", "/usr/bin/klist": "krb5-user",
	} {
		if _, err := os.Stat(tool); err != nil {
			missing = append(missing, tool+" (Debian package "+pkg+")")
		}
	}
	if len(missing) == 0 {
		return
	}
	reason := "the directory login test needs " + strings.Join(missing, ", ") + "; scripts/install-test-deps installs them"
	if os.Getenv(pcsctest.RequireEnv) == "1" {
		t.Fatal(reason + ", and " + pcsctest.RequireEnv + "=1")
	}
	t.Skip(reason)
}

// TestDirectoryLogin is issue 8's directory login end to end.
func TestDirectoryLogin(t *testing.T) {
	e2e.RequireNetns(t, "the directory login test")
	requireTools(t)
	hostBefore := hostFiles(t)
	t.Cleanup(func() {
		if after := hostFiles(t); after != hostBefore {
			t.Errorf("the machine's own files changed:\nbefore %s\nafter  %s", hostBefore, after)
		}
	})

	pid := os.Getpid()
	hubNS, lapNS := fmt.Sprintf("ksdhub-%d", pid), fmt.Sprintf("ksdlap-%d", pid)
	hubIf, lapIf := fmt.Sprintf("ksdh%d", pid), fmt.Sprintf("ksdl%d", pid)
	hubVeth, lapVeth := fmt.Sprintf("ksdvh%d", pid), fmt.Sprintf("ksdvl%d", pid)
	if len(hubVeth) > 15 {
		hubIf, lapIf, hubVeth, lapVeth = "ksdh"+short(pid), "ksdl"+short(pid), "ksdvh"+short(pid), "ksdvl"+short(pid)
	}

	// The tunnel: hub and laptop joined by a veth underlay, the directory's
	// addresses reachable only through WireGuard.
	e2e.AddNetns(t, hubNS)
	e2e.AddNetns(t, lapNS)
	e2e.Veth(t, hubNS, hubVeth, hubUnderlay+"/24", lapNS, lapVeth, lapUnderlay+"/24")
	wgtest.Start(t, hubNS, hubIf)
	wgtest.Start(t, lapNS, lapIf)
	hubKey, lapKey := wgKey(t), wgKey(t)
	wgtest.UAPI(t, hubIf, fmt.Sprintf("set=1\nprivate_key=%s\nlisten_port=%d\nreplace_peers=true\npublic_key=%s\nendpoint=%s:%d\nreplace_allowed_ips=true\nallowed_ip=%s/32\n",
		hexKey(hubKey), listenPort, hexKey(lapKey.PublicKey()), lapUnderlay, listenPort, lapTunnel))
	wgtest.UAPI(t, lapIf, fmt.Sprintf("set=1\nprivate_key=%s\nlisten_port=%d\nreplace_peers=true\npublic_key=%s\nendpoint=%s:%d\nreplace_allowed_ips=true\nallowed_ip=%s/32\n",
		hexKey(lapKey), listenPort, hexKey(hubKey.PublicKey()), hubUnderlay, listenPort, hubTunnel))
	e2e.Command(t, "ip", "-n", hubNS, "addr", "add", hubTunnel+"/24", "dev", hubIf)
	e2e.Command(t, "ip", "-n", lapNS, "addr", "add", lapTunnel+"/24", "dev", lapIf)
	e2e.Command(t, "ip", "-n", hubNS, "link", "set", hubIf, "up")
	e2e.Command(t, "ip", "-n", lapNS, "link", "set", lapIf, "up")
	deadline := time.Now().Add(20 * time.Second)
	for {
		err := e2e.Ping(lapNS, hubTunnel, 2*time.Second)
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("ping %s from the laptop through the tunnel: %v", hubTunnel, err)
		}
		time.Sleep(200 * time.Millisecond)
	}

	// The stand-in for Nubus: slapd over TLS and an MIT KDC, in the hub.
	caPEM := startSlapd(t, hubNS)
	kdc := krb5test.Start(t, krb5test.Options{Realm: realm, Netns: hubNS, Host: hubTunnel, Port: 88})
	kdc.AddUser(t, "alice", alicePW)
	kdc.AddUser(t, "bob", bobPW)
	kdc.AddUser(t, "carol", carolPW)

	// The laptop: the agent's controller configures SSSD from the
	// directory section; a real sssd runs in a private mount namespace.
	dc := protocol.DirectoryConfig{
		LDAPURIs: []string{"ldaps://" + hubTunnel}, BaseDN: baseDN, Realm: realm,
		KDCs: []string{hubTunnel}, KpasswdServers: []string{hubTunnel}, CACertificate: caPEM,
		// Only the laptop-users group (alice, bob) may log in; carol is in
		// the directory but not in it.
		LoginGroups: []string{"laptop-users"},
	}
	lap := startLaptop(t, lapNS, dc)
	st := lap.status
	if st.State != agentdir.StateConfigured || !st.Configured || st.Realm != realm || st.Reachable != agentdir.ReachableYes {
		t.Fatalf("directory status in the laptop = %+v", st)
	}
	conf, err := os.ReadFile(filepath.Join(lap.etcUpper, "sssd", "sssd.conf"))
	if err != nil {
		t.Fatal(err)
	}
	want, _ := agentdir.Render(&dc)
	if string(conf) != string(want[2].Content) {
		t.Errorf("sssd.conf in the laptop is not the controller's rendering:\n%s", conf)
	}
	// The helper removed sss from NSS and PAM before the controller ran:
	// what is there now, the controller put there.
	for f, want := range map[string]string{"nsswitch.conf": "sss\n", "krb5.conf": agentdir.Krb5Include,
		"pam.d/common-auth": "pam_sss.so", "pam.d/common-session": "pam_mkhomedir.so", "krb5.conf.d/kiwistack.conf": "kdc = " + hubTunnel} {
		if b, err := os.ReadFile(filepath.Join(lap.etcUpper, f)); err != nil || !strings.Contains(string(b), want) {
			t.Errorf("the controller did not write %q into /etc/%s in the laptop: %v\n%s", want, f, err, b)
		}
	}

	// Online: alice resolves, logs in with her password and gets a ticket.
	var out string
	deadline = time.Now().Add(30 * time.Second)
	for {
		var err error
		out, err = lap.run("", "getent", "passwd", "alice")
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("getent passwd alice: %v\n%s", err, out)
		}
		time.Sleep(500 * time.Millisecond)
	}
	t.Logf("getent passwd alice through the tunnel: %s", strings.TrimSpace(out))
	if out, err := lap.run("", "sssctl", "config-check"); err != nil {
		t.Errorf("sssctl config-check on the laptop's /etc/sssd/sssd.conf: %v\n%s", err, out)
	}
	if !strings.HasPrefix(out, fmt.Sprintf("alice:*:%d:10000:Alice Example:/home/alice:/bin/bash", aliceUID)) {
		t.Errorf("getent passwd alice = %q", out)
	}
	if out, err := lap.run("", "getent", "passwd", "alice"); err != nil || !strings.HasPrefix(out, "alice:") {
		t.Errorf("getent passwd alice again: %v %q", err, out)
	}
	if out, err := lap.run(alicePW+"\n", "pamtester", "-v", pamSvc, "alice", "authenticate", "acct_mgmt", "open_session", "close_session"); err != nil {
		t.Fatalf("PAM login of alice with her password: %v\n%s", err, out)
	}
	ccache := fmt.Sprintf("/tmp/krb5cc_%d", aliceUID)
	out, err = lap.run("", "klist", "-c", "FILE:"+ccache)
	if err != nil || !strings.Contains(out, "Default principal: alice@"+realm) || !strings.Contains(out, "krbtgt/"+realm+"@"+realm) {
		t.Errorf("klist of alice's ccache after login: %v\n%s", err, out)
	}
	t.Logf("after alice's login, klist of %s:\n%s", ccache, out)
	if fi, err := os.Stat(filepath.Join(lap.tmp, filepath.Base(ccache))); err != nil || fi.Sys().(*syscall.Stat_t).Uid != aliceUID {
		t.Errorf("alice's ccache is not hers: %v", err)
	}
	if fi, err := os.Stat(filepath.Join(lap.home, "alice")); err != nil || !fi.IsDir() || fi.Sys().(*syscall.Stat_t).Uid != aliceUID {
		t.Errorf("no home directory for alice after her first login: %v", err)
	}
	if out, err := lap.run("wrong password\n", "pamtester", pamSvc, "alice", "authenticate"); err == nil {
		t.Errorf("PAM login of alice with a wrong password succeeded:\n%s", out)
	}
	// carol's password is right, but she is not in a login group: the
	// account check refuses her.
	if out, err := lap.run(carolPW+"\n", "pamtester", pamSvc, "carol", "authenticate"); err != nil {
		t.Errorf("carol's password was refused (the access check, not the password, must stop her): %v\n%s", err, out)
	}
	if out, err := lap.run(carolPW+"\n", "pamtester", pamSvc, "carol", "authenticate", "acct_mgmt"); err == nil {
		t.Errorf("carol, outside the login groups, passed the account check:\n%s", out)
	} else {
		t.Logf("carol refused by the login groups: %s", strings.TrimSpace(out))
	}

	// The KDC goes down, the tunnel stays: alice's cached login works.
	kdc.Stop()
	if out, err := lap.run(alicePW+"\n", "pamtester", pamSvc, "alice", "authenticate"); err != nil {
		t.Errorf("PAM login of alice with the KDC down: %v\n%s", err, out)
	}
	kdc.Restart(t)

	// Offline: the tunnel goes down; alice's cached login works, a wrong
	// password still fails, and bob, never seen, cannot log in.
	e2e.Command(t, "ip", "-n", lapNS, "link", "set", lapIf, "down")
	if err := e2e.Ping(lapNS, hubTunnel, 1*time.Second); err == nil {
		t.Fatal("the directory is still reachable with the tunnel down")
	}
	if out, err := lap.run(alicePW+"\n", "pamtester", "-v", pamSvc, "alice", "authenticate", "acct_mgmt"); err != nil {
		t.Errorf("cached PAM login of alice with the tunnel down: %v\n%s\nsssd:\n%s", err, out, lap.stderr.String())
	} else {
		t.Logf("offline login of alice: %s", strings.TrimSpace(out))
	}
	if out, err := lap.run("wrong password\n", "pamtester", pamSvc, "alice", "authenticate"); err == nil {
		t.Errorf("offline PAM login of alice with a wrong password succeeded:\n%s", out)
	}
	if out, err := lap.run(bobPW+"\n", "pamtester", pamSvc, "bob", "authenticate"); err == nil {
		t.Errorf("bob, never logged in, logged in with the tunnel down:\n%s", out)
	} else {
		t.Logf("offline login of bob refused: %s", strings.TrimSpace(out))
	}
	if out, err := lap.run("", "getent", "passwd", "bob"); err == nil {
		t.Errorf("getent passwd bob with the tunnel down: %q", out)
	}
}

// hostFiles summarises the machine's own files that SSSD, NSS, PAM and
// Kerberos configuration or a login could change: a size and modification
// time each, or "absent".
func hostFiles(t *testing.T) string {
	t.Helper()
	var b strings.Builder
	for _, p := range []string{"/etc/nsswitch.conf", "/etc/krb5.conf", "/etc/krb5.conf.d/kiwistack.conf",
		"/etc/sssd/sssd.conf", "/etc/sssd/kiwistack-directory-ca.pem", "/etc/pam.d/common-auth", "/etc/pam.d/common-account",
		"/etc/pam.d/common-session", "/etc/pam.d/common-password", "/etc/pam.d/" + pamSvc, "/var/lib/pam/seen",
		"/home/alice", fmt.Sprintf("/tmp/krb5cc_%d", aliceUID)} {
		if fi, err := os.Stat(p); err != nil {
			fmt.Fprintf(&b, "%s absent; ", p)
		} else {
			fmt.Fprintf(&b, "%s %d %s; ", p, fi.Size(), fi.ModTime().Format(time.RFC3339Nano))
		}
	}
	return b.String()
}

func short(pid int) string { return fmt.Sprint(pid % 100000) }

// ---- WireGuard --------------------------------------------------------

func wgKey(t *testing.T) wgtypes.Key {
	t.Helper()
	k, err := wgtypes.GeneratePrivateKey()
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func hexKey(k wgtypes.Key) string { return hex.EncodeToString(k[:]) }

// ---- slapd ------------------------------------------------------------

// startSlapd starts Debian's slapd in ns on ldaps://hubTunnel with its own
// configuration, TLS certificate and database (alice, bob and their group)
// in the test's directory, and returns the PEM of the CA of its
// certificate. Cleanup stops it.
func startSlapd(t *testing.T, ns string) string {
	t.Helper()
	dir := t.TempDir()
	caPEM, certPEM, keyPEM := tlsCerts(t, netip.MustParseAddr(hubTunnel))
	for name, b := range map[string][]byte{"ca.pem": caPEM, "ldap.pem": certPEM, "ldap.key": keyPEM} {
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Mkdir(filepath.Join(dir, "db"), 0o700); err != nil {
		t.Fatal(err)
	}
	conf := fmt.Sprintf(`include /etc/ldap/schema/core.schema
include /etc/ldap/schema/cosine.schema
include /etc/ldap/schema/nis.schema
include /etc/ldap/schema/inetorgperson.schema
modulepath /usr/lib/ldap
moduleload back_mdb
pidfile %[1]s/slapd.pid
argsfile %[1]s/slapd.args
TLSCACertificateFile %[1]s/ca.pem
TLSCertificateFile %[1]s/ldap.pem
TLSCertificateKeyFile %[1]s/ldap.key
database mdb
maxsize 16777216
suffix "%[2]s"
rootdn "cn=admin,%[2]s"
directory %[1]s/db
access to attrs=userPassword by * none
access to * by * read
`, dir, baseDN)
	confPath := filepath.Join(dir, "slapd.conf")
	if err := os.WriteFile(confPath, []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	ldif := fmt.Sprintf(`dn: %[1]s
objectClass: dcObject
objectClass: organization
dc: acme
o: Acme

dn: ou=people,%[1]s
objectClass: organizationalUnit
ou: people

dn: ou=groups,%[1]s
objectClass: organizationalUnit
ou: groups

dn: uid=alice,ou=people,%[1]s
objectClass: inetOrgPerson
objectClass: posixAccount
uid: alice
cn: Alice Example
sn: Example
uidNumber: %[2]d
gidNumber: 10000
gecos: Alice Example
homeDirectory: /home/alice
loginShell: /bin/bash

dn: uid=bob,ou=people,%[1]s
objectClass: inetOrgPerson
objectClass: posixAccount
uid: bob
cn: Bob Example
sn: Example
uidNumber: %[3]d
gidNumber: 10000
gecos: Bob Example
homeDirectory: /home/bob
loginShell: /bin/bash

dn: uid=carol,ou=people,%[1]s
objectClass: inetOrgPerson
objectClass: posixAccount
uid: carol
cn: Carol Example
sn: Example
uidNumber: %[4]d
gidNumber: 10000
gecos: Carol Example
homeDirectory: /home/carol
loginShell: /bin/bash

dn: cn=acme-users,ou=groups,%[1]s
objectClass: posixGroup
cn: acme-users
gidNumber: 10000
memberUid: alice
memberUid: bob
memberUid: carol

dn: cn=laptop-users,ou=groups,%[1]s
objectClass: posixGroup
cn: laptop-users
gidNumber: 10001
memberUid: alice
memberUid: bob
`, baseDN, aliceUID, aliceUID+1, aliceUID+2)
	ldifPath := filepath.Join(dir, "users.ldif")
	if err := os.WriteFile(ldifPath, []byte(ldif), 0o600); err != nil {
		t.Fatal(err)
	}
	e2e.Command(t, "/usr/sbin/slapadd", "-f", confPath, "-l", ldifPath)

	var logs syncbuf.Buffer
	cmd := exec.Command("ip", "netns", "exec", ns, "/usr/sbin/slapd", "-d", "none", "-f", confPath, "-h", "ldaps://"+hubTunnel+"/")
	cmd.Stdout, cmd.Stderr = &logs, &logs
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting slapd: %v", err)
	}
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			_ = cmd.Process.Kill()
			<-done
		}
		if t.Failed() {
			t.Logf("slapd said:\n%s", logs.String())
		}
	})
	// Ready when an anonymous TLS search from the hub finds alice.
	caFile := filepath.Join(dir, "ca.pem")
	deadline := time.Now().Add(15 * time.Second)
	for {
		c := exec.Command("ip", "netns", "exec", ns, "ldapsearch", "-x", "-LLL", "-H", "ldaps://"+hubTunnel, "-b", baseDN, "uid=alice", "uid")
		c.Env = append(os.Environ(), "LDAPTLS_CACERT="+caFile, "LDAPTLS_REQCERT=demand")
		out, err := c.CombinedOutput()
		if err == nil && strings.Contains(string(out), "uid: alice") {
			break
		}
		select {
		case <-done:
			t.Fatalf("slapd exited:\n%s", logs.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("slapd does not answer: %v\n%s\nslapd:\n%s", err, out, logs.String())
		}
		time.Sleep(200 * time.Millisecond)
	}
	return string(caPEM)
}

// tlsCerts makes a CA and a server certificate for ip, PEM.
func tlsCerts(t *testing.T, ip netip.Addr) (caPEM, certPEM, keyPEM []byte) {
	t.Helper()
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	caTmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "Acme Directory CA"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(24 * time.Hour), IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageCRLSign}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	ca, _ := x509.ParseCertificate(caDER)
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: ip.String()},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(24 * time.Hour), IPAddresses: []net.IP{ip.AsSlice()},
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	kder, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER}),
		pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kder})
}

// ---- the laptop -------------------------------------------------------

// laptopSpec is what the laptop helper gets from the test.
type laptopSpec struct {
	// Dir holds the overlay layers and scratch directories.
	Dir string
	// Directory is the tenant configuration's directory section.
	Directory protocol.DirectoryConfig
}

// laptop is the running laptop helper: sssd in the laptop's network
// namespace and its private mount namespace.
type laptop struct {
	pid      int
	etcUpper string // the overlay's upper layer of /etc: what was written
	tmp      string // the laptop's /tmp
	home     string // the laptop's /home
	status   status.Directory
	stderr   *syncbuf.Buffer
}

// overlays are the directories the laptop helper covers with an overlay
// (writes land in the test's directory); binds are those it replaces by
// an empty scratch directory. /tmp comes last: the layers live there.
var (
	overlays = []string{"/etc", "/var/lib/sss", "/var/lib/pam", "/var/log/sssd"}
	binds    = []string{"/home", "/tmp"}
)

func layer(dir, mount, kind string) string {
	return filepath.Join(dir, kind+strings.ReplaceAll(mount, "/", "_"))
}

// startLaptop runs the laptop helper in ns: it prepares a private mount
// namespace, runs the agent's directory controller there and becomes sssd.
func startLaptop(t *testing.T, ns string, dc protocol.DirectoryConfig) *laptop {
	t.Helper()
	dir, err := os.MkdirTemp("", "kiwistack-directory-laptop-")
	if err != nil {
		t.Fatal(err)
	}
	// The overlays' upper and work layers live on a tmpfs of their own:
	// overlayfs refuses an upper layer on overlayfs (a container's or a
	// fresh-machine root's /tmp) with "invalid argument". Mounted here, it
	// is seen by this process (which reads what the controller wrote) and
	// by the helper's private mount namespace, made after it.
	if err := syscall.Mount("tmpfs", dir, "tmpfs", 0, "mode=0700"); err != nil {
		t.Fatalf("tmpfs for the laptop's layers: %v", err)
	}
	t.Cleanup(func() {
		_ = syscall.Unmount(dir, syscall.MNT_DETACH)
		_ = os.RemoveAll(dir)
	})
	for _, m := range overlays {
		for _, k := range []string{"upper", "work"} {
			if err := os.MkdirAll(layer(dir, m, k), 0o755); err != nil {
				t.Fatal(err)
			}
		}
	}
	for _, m := range binds {
		if err := os.MkdirAll(layer(dir, m, "scratch"), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Chmod(layer(dir, "/tmp", "scratch"), 0o1777); err != nil {
		t.Fatal(err)
	}
	spec, err := json.Marshal(laptopSpec{Dir: dir, Directory: dc})
	if err != nil {
		t.Fatal(err)
	}
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("ip", "netns", "exec", ns, "unshare", "--mount", "--propagation", "private", self)
	cmd.Env = append(os.Environ(), sssdHelperEnv+"="+string(spec))
	stderr := &syncbuf.Buffer{}
	cmd.Stderr = stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting the laptop helper: %v", err)
	}
	done := make(chan struct{})
	lines := make(chan string, 1)
	go func() {
		line, _ := bufio.NewReader(stdout).ReadString('\n')
		lines <- line
		_, _ = io.Copy(io.Discard, stdout)
		_ = cmd.Wait()
		close(done)
	}()
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			_ = cmd.Process.Kill()
			<-done
		}
		if t.Failed() {
			t.Logf("laptop helper and sssd said:\n%s", stderr.String())
		}
	})
	lap := &laptop{pid: cmd.Process.Pid, etcUpper: layer(dir, "/etc", "upper"), tmp: layer(dir, "/tmp", "scratch"),
		home: layer(dir, "/home", "scratch"), stderr: stderr}
	select {
	case line := <-lines:
		if err := json.Unmarshal([]byte(line), &lap.status); err != nil {
			t.Fatalf("the laptop helper did not report the controller's status (%q):\n%s", line, stderr.String())
		}
	case <-time.After(60 * time.Second):
		t.Fatalf("the laptop helper did not report after 60s:\n%s", stderr.String())
	}
	return lap
}

// run runs a program in the laptop's network and mount namespaces with
// stdin, and returns its combined output. It takes the helper's root and
// working directory too (-r, -w): entering a mount namespace otherwise
// sets the root to the namespace's own, which is not this process's
// where the test runs in a chroot (a fresh-machine root).
func (l *laptop) run(stdin, name string, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	argv := append([]string{"-t", fmt.Sprint(l.pid), "-m", "-n", "-r", "-w", "--", name}, args...)
	cmd := exec.CommandContext(ctx, "nsenter", argv...)
	cmd.Stdin = strings.NewReader(stdin)
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// runLaptop is the laptop helper, already in the laptop's network
// namespace and a private mount namespace: it covers the system's
// directories, starts from a machine without SSSD in NSS and PAM, runs
// the agent's directory controller, prints its status as one JSON line
// and becomes sssd. It returns only on failure.
func runLaptop(specJSON string) error {
	var spec laptopSpec
	if err := json.Unmarshal([]byte(specJSON), &spec); err != nil {
		return fmt.Errorf("reading the spec: %w", err)
	}
	for _, m := range overlays {
		opts := fmt.Sprintf("lowerdir=%s,upperdir=%s,workdir=%s", m, layer(spec.Dir, m, "upper"), layer(spec.Dir, m, "work"))
		if err := syscall.Mount("overlay", m, "overlay", 0, opts); err != nil {
			return fmt.Errorf("overlay on %s: %w", m, err)
		}
	}
	if err := syscall.Mount("tmpfs", "/run", "tmpfs", 0, "mode=0755"); err != nil {
		return fmt.Errorf("tmpfs on /run: %w", err)
	}
	// A machine before the agent: no sss in NSS or PAM.
	nss, err := os.ReadFile("/etc/nsswitch.conf")
	if err != nil {
		return err
	}
	var clean []string
	for _, l := range strings.Split(string(nss), "\n") {
		clean = append(clean, strings.ReplaceAll(l, " sss", ""))
	}
	if err := os.WriteFile("/etc/nsswitch.conf", []byte(strings.Join(clean, "\n")), 0o644); err != nil {
		return err
	}
	if out, err := exec.Command("pam-auth-update", "--disable", "sss", "mkhomedir").CombinedOutput(); err != nil {
		return fmt.Errorf("pam-auth-update --disable: %w\n%s", err, out)
	}
	if err := os.WriteFile("/etc/pam.d/"+pamSvc, []byte("# The login stack of Debian's common files, for pamtester.\n@include common-auth\n@include common-account\n@include common-session\n"), 0o644); err != nil {
		return err
	}
	for _, d := range []string{"/etc/sssd", "/var/lib/sss/db", "/var/lib/sss/pipes/private", "/var/lib/sss/mc", "/var/lib/sss/pubconf/krb5.include.d"} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return err
		}
	}

	c := agentdir.New(agentdir.Options{Service: agentdir.NoRestart{},
		Config: func() *protocol.AgentConfig { return &protocol.AgentConfig{Directory: &spec.Directory} }})
	_, rerr := c.Reconcile(context.Background())
	b, err := json.Marshal(c.Status())
	if err != nil {
		return err
	}
	fmt.Println(string(b))
	if rerr != nil {
		return fmt.Errorf("reconciling: %w", rerr)
	}

	for _, m := range binds {
		if err := syscall.Mount(layer(spec.Dir, m, "scratch"), m, "", syscall.MS_BIND, ""); err != nil {
			return fmt.Errorf("bind mount on %s: %w", m, err)
		}
	}
	// KIWISTACK_SSSD_DEBUG raises sssd's debug level (shown when the test
	// fails), e.g. 6 to see its LDAP and TLS steps.
	level := os.Getenv("KIWISTACK_SSSD_DEBUG")
	if level == "" {
		level = "2"
	}
	return syscall.Exec("/usr/sbin/sssd", []string{"sssd", "-i", "--logger=stderr", "-d", level}, os.Environ())
}
