package appcert

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"math/big"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/kiwistack/endpoint/enroll/protocol"
)

// testCA is a tenant-like root and intermediate that sign app
// certificates the way step-ca's template does.
type testCA struct {
	root, inter *x509.Certificate
	interKey    *ecdsa.PrivateKey
}

func newTestCA(t *testing.T) *testCA {
	t.Helper()
	rk, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	ik, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	rt := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "Test Root"}, NotBefore: time.Now().Add(-time.Hour),
		NotAfter: time.Now().Add(48 * time.Hour), IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}
	rd, err := x509.CreateCertificate(rand.Reader, rt, rt, &rk.PublicKey, rk)
	if err != nil {
		t.Fatal(err)
	}
	root, _ := x509.ParseCertificate(rd)
	it := &x509.Certificate{SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: protocol.IntermediateCommonName("acme")}, NotBefore: time.Now().Add(-time.Hour),
		NotAfter: time.Now().Add(48 * time.Hour), IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign, MaxPathLenZero: true}
	id, err := x509.CreateCertificate(rand.Reader, it, root, &ik.PublicKey, rk)
	if err != nil {
		t.Fatal(err)
	}
	inter, _ := x509.ParseCertificate(id)
	return &testCA{root: root, inter: inter, interKey: ik}
}

// sign issues an app certificate of device d1 of acme for csr, valid from
// notBefore for life.
func (ca *testCA) sign(t *testing.T, csrDER []byte, user string, notBefore time.Time, life time.Duration) *x509.Certificate {
	t.Helper()
	csr, err := x509.ParseCertificateRequest(csrDER)
	if err != nil {
		t.Fatal(err)
	}
	if err := csr.CheckSignature(); err != nil {
		t.Fatal(err)
	}
	serial, _ := rand.Int(rand.Reader, big.NewInt(1<<62))
	tmpl := &x509.Certificate{SerialNumber: serial,
		Subject:   pkix.Name{CommonName: protocol.AppCommonName(user, "d1"), OrganizationalUnit: []string{protocol.AppCertificateOU}, Organization: []string{"acme"}},
		NotBefore: notBefore, NotAfter: notBefore.Add(life), KeyUsage: x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}, URIs: []*url.URL{protocol.AppURI("acme", "d1")}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.inter, csr.PublicKey, ca.interKey)
	if err != nil {
		t.Fatal(err)
	}
	c, _ := x509.ParseCertificate(der)
	return c
}

// requireCertutil skips without Debian's libnss3-tools, or fails when
// KIWISTACK_REQUIRE_HW_TESTS=1 (make test and CI install it).
func requireCertutil(t *testing.T) {
	t.Helper()
	for _, b := range []string{"certutil", "pk12util"} {
		if _, err := exec.LookPath(b); err != nil {
			msg := b + " (Debian libnss3-tools) is not installed; scripts/install-test-deps installs it"
			if os.Getenv("KIWISTACK_REQUIRE_HW_TESTS") == "1" {
				t.Fatal(msg)
			}
			t.Skip(msg)
		}
	}
}

// keys lists the key lines of certutil -K.
func keys(t *testing.T, u User) []string {
	t.Helper()
	out, err := exec.Command("certutil", "-K", "-d", db(u)).CombinedOutput()
	if err != nil && !strings.Contains(string(out), "no keys found") {
		t.Fatalf("certutil -K: %v %s", err, out)
	}
	var ks []string
	for _, l := range strings.Split(string(out), "\n") {
		if strings.HasPrefix(strings.TrimSpace(l), "<") {
			ks = append(ks, strings.TrimSpace(l))
		}
	}
	return ks
}

func TestNSSStore(t *testing.T) {
	requireCertutil(t)
	ctx := context.Background()
	u := User{Name: "alice", UID: -1, GID: -1, Home: t.TempDir()}
	s := &NSS{Tenant: "acme"}
	ca := newTestCA(t)

	if c, err := s.Installed(ctx, u); err != nil || c != nil {
		t.Fatalf("before: %v, %v; want none", c, err)
	}
	if err := s.Remove(ctx, u); err != nil {
		t.Fatalf("removing from no database: %v", err)
	}
	csr, key, err := s.NewKey(ctx, u, "alice@d1")
	if err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(DBDir(u)); err != nil || fi.Mode().Perm() != 0o700 {
		t.Fatalf("database directory: %v %v, want 0700", fi, err)
	}
	leaf := ca.sign(t, csr, "alice", time.Now().Add(-time.Minute), time.Hour)
	if err := s.Install(ctx, u, key, []*x509.Certificate{leaf, ca.inter}, ca.root); err != nil {
		t.Fatal(err)
	}
	got, err := s.Installed(ctx, u)
	if err != nil || got == nil || !got.Equal(leaf) {
		t.Fatalf("installed %v, %v; want the leaf", got, err)
	}
	// The key is in the database, under the certificate's nickname.
	if ks := keys(t, u); len(ks) != 1 || !strings.Contains(ks[0], Nickname("acme")) {
		t.Errorf("keys %q, want one for %s", ks, Nickname("acme"))
	}
	// The root is trusted as a CA.
	out, err := exec.Command("certutil", "-L", "-d", db(u)).CombinedOutput()
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(out), RootNickname("acme")) || !strings.Contains(string(out), "C,,") {
		t.Errorf("certutil -L:\n%s\nwant %s trusted C,,", out, RootNickname("acme"))
	}

	// A renewal replaces it: one certificate, one key.
	csr2, key2, err := s.NewKey(ctx, u, "alice@d1")
	if err != nil {
		t.Fatal(err)
	}
	leaf2 := ca.sign(t, csr2, "alice", time.Now().Add(-time.Minute), 2*time.Hour)
	if err := s.Install(ctx, u, key2, []*x509.Certificate{leaf2, ca.inter}, ca.root); err != nil {
		t.Fatal(err)
	}
	if got, err := s.Installed(ctx, u); err != nil || !got.Equal(leaf2) {
		t.Fatalf("after renewal %v, %v", got, err)
	}
	if ks := keys(t, u); len(ks) != 1 {
		t.Errorf("keys after renewal %q, want one", ks)
	}

	// A key whose certificate never came is deleted.
	_, orphan, err := s.NewKey(ctx, u, "alice@d1")
	if err != nil {
		t.Fatal(err)
	}
	if ks := keys(t, u); len(ks) != 2 {
		t.Fatalf("keys with an orphan %q, want two", ks)
	}
	if err := s.Discard(ctx, u, orphan); err != nil {
		t.Fatal(err)
	}
	if ks := keys(t, u); len(ks) != 1 {
		t.Errorf("keys after discard %q, want one", ks)
	}

	if err := s.Remove(ctx, u); err != nil {
		t.Fatal(err)
	}
	if got, err := s.Installed(ctx, u); err != nil || got != nil {
		t.Errorf("after remove %v, %v; want none", got, err)
	}
	if ks := keys(t, u); len(ks) != 0 {
		t.Errorf("keys after remove %q, want none", ks)
	}
}

func TestNSSArgs(t *testing.T) {
	for _, tc := range []struct {
		got, want []string
	}{
		{NSSCreateArgs("sql:/h/.pki/nssdb"), []string{"-N", "-d", "sql:/h/.pki/nssdb", "--empty-password"}},
		{NSSRequestArgs("sql:/d", "a@d1", "/t/noise"), []string{"-R", "-d", "sql:/d", "-k", "ec", "-q", "nistp256", "-s", "CN=a@d1", "-z", "/t/noise", "-a", "-Z", "SHA256"}},
		{NSSRequestArgs("sql:/d", `x,y=z`, "/n"), []string{"-R", "-d", "sql:/d", "-k", "ec", "-q", "nistp256", "-s", `CN=x\,y\=z`, "-z", "/n", "-a", "-Z", "SHA256"}},
		{NSSAddArgs("sql:/d", "n", "C,,"), []string{"-A", "-d", "sql:/d", "-n", "n", "-t", "C,,", "-a"}},
		{NSSDeleteKeyArgs("sql:/d", "n"), []string{"-F", "-d", "sql:/d", "-n", "n"}},
		{NSSDeleteKeyIDArgs("sql:/d", "ab"), []string{"-F", "-d", "sql:/d", "-k", "ab"}},
		{KeychainImportArgs("/Users/a/Library/Keychains/login.keychain-db", "/tmp/x/app.p12", "pw"),
			[]string{"import", "/tmp/x/app.p12", "-k", "/Users/a/Library/Keychains/login.keychain-db", "-f", "pkcs12", "-P", "pw",
				"-T", "/Applications/Chromium.app", "-T", "/Applications/Google Chrome.app"}},
		{KeychainFindArgs("/k", "@d1"), []string{"find-certificate", "-a", "-p", "-c", "@d1", "/k"}},
		{KeychainDeleteArgs("/k", "AB"), []string{"delete-identity", "-Z", "AB", "/k"}},
		{WindowsImportArgs(`C:\t\app.p12`, "pw"), []string{"-user", "-f", "-p", "pw", "-importPFX", "My", `C:\t\app.p12`, "NoRoot"}},
		{WindowsDeleteArgs("1f"), []string{"-user", "-delstore", "My", "1f"}},
	} {
		if !slices.Equal(tc.got, tc.want) {
			t.Errorf("argv %q, want %q", tc.got, tc.want)
		}
	}
	if LoginKeychain(User{Home: "/Users/a"}) != filepath.Join("/Users/a", "Library", "Keychains", "login.keychain-db") {
		t.Error("login keychain path")
	}
}

// TestPKCS12File checks the PKCS #12 file the macOS and Windows stores
// import with a real importer, NSS's pk12util: it is read with its
// one-time password, holds the key and the certificate, and is 0600.
func TestPKCS12File(t *testing.T) {
	requireCertutil(t)
	ca := newTestCA(t)
	csr, key, err := goKey("alice@d1")
	if err != nil {
		t.Fatal(err)
	}
	leaf := ca.sign(t, csr, "alice", time.Now().Add(-time.Minute), time.Hour)
	u := User{Name: "alice", UID: -1, GID: -1, Home: t.TempDir()}
	p12, pw, cleanup, err := p12File(u, key, []*x509.Certificate{leaf, ca.inter})
	if err != nil {
		t.Fatal(err)
	}
	defer cleanup()
	if fi, err := os.Stat(p12); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("%s: %v %v, want 0600", p12, fi, err)
	}
	d := "sql:" + t.TempDir()
	for _, argv := range [][]string{NSSCreateArgs(d), {"pk12util", "-i", p12, "-d", d, "-W", pw}} {
		name, args := "certutil", argv
		if argv[0] == "pk12util" {
			name, args = argv[0], argv[1:]
		}
		if out, err := exec.Command(name, args...).CombinedOutput(); err != nil {
			t.Fatalf("%s %q: %v\n%s", name, args, err, out)
		}
	}
	out, err := exec.Command("certutil", "-K", "-d", d).CombinedOutput()
	if err != nil || !strings.Contains(string(out), "alice@d1") {
		t.Errorf("the imported key is not paired with the certificate: %v\n%s", err, out)
	}
	cleanup()
	if _, err := os.Stat(filepath.Dir(p12)); !os.IsNotExist(err) {
		t.Errorf("the temporary directory is still there: %v", err)
	}
}
