package api

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"database/sql"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"math/big"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	_ "modernc.org/sqlite"

	"github.com/kiwistack/endpoint/enroll/protocol"
	"github.com/kiwistack/endpoint/server/ca"
	"github.com/kiwistack/endpoint/server/store"
)

const tenant = "acme"

// admin is a software stand-in for an administrator's YubiKey slot 9a.
type admin struct {
	serial uint32
	key    *ecdsa.PrivateKey
	cert   *x509.Certificate
}

// env is one tenant API over the real store and the real embedded CA.
type env struct {
	srv   *httptest.Server
	h     *Server
	st    *store.SQLite
	db    *sql.DB
	pki   *ca.PKI
	ca    *ca.Embedded
	caDir string // the CA's state directory
	admin admin
	seq   atomic.Uint32
}

func newKey(tb testing.TB) *ecdsa.PrivateKey {
	tb.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		tb.Fatal(err)
	}
	return k
}

// openCA opens an embedded CA for tenant in a temporary directory and loads
// the PKI it wrote, whose intermediate key issues admin certificates.
func openCA(tb testing.TB, slug string) (*ca.Embedded, *ca.PKI, string) {
	tb.Helper()
	dir := tb.TempDir()
	e, err := ca.Open(dir, slug)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { _ = e.Close() })
	pki, err := ca.LoadOrCreatePKI(dir, slug, time.Now())
	if err != nil {
		tb.Fatal(err)
	}
	if !pki.Intermediate.Equal(e.Intermediate()) {
		tb.Fatal("the PKI files are not the CA's")
	}
	return e, pki, dir
}

// issueAdmin issues a slot 9a stand-in certificate under pki's intermediate.
func issueAdmin(tb testing.TB, pki *ca.PKI, key *ecdsa.PrivateKey, cn, ou, o string, notBefore, notAfter time.Time) *x509.Certificate {
	tb.Helper()
	subj := pkix.Name{CommonName: cn, Organization: []string{o}}
	if ou != "" {
		subj.OrganizationalUnit = []string{ou}
	}
	sn, _ := rand.Int(rand.Reader, big.NewInt(1<<62))
	tmpl := &x509.Certificate{
		SerialNumber: sn, Subject: subj, NotBefore: notBefore, NotAfter: notAfter,
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, pki.Intermediate, &key.PublicKey, pki.IntermediateKey)
	if err != nil {
		tb.Fatal(err)
	}
	c, err := x509.ParseCertificate(der)
	if err != nil {
		tb.Fatal(err)
	}
	return c
}

// addAdmin issues a certificate and adds it to the roster.
func (e *env) addAdmin(tb testing.TB, serial uint32, ou, o string) admin {
	tb.Helper()
	k := newKey(tb)
	c := issueAdmin(tb, e.pki, k, fmt.Sprintf("admin-%d", serial), ou, o, time.Now().Add(-time.Hour), time.Now().Add(24*time.Hour))
	e.roster(tb, serial, c)
	return admin{serial: serial, key: k, cert: c}
}

func (e *env) roster(tb testing.TB, serial uint32, c *x509.Certificate) {
	tb.Helper()
	sum := sha256.Sum256(c.RawSubjectPublicKeyInfo)
	role := "none"
	if len(c.Subject.OrganizationalUnit) > 0 {
		role = c.Subject.OrganizationalUnit[0]
	}
	if err := e.st.AddRosterEntry(context.Background(), store.RosterEntry{
		Serial: serial, Admin: c.Subject.CommonName, Role: role, SPKISHA256: hex.EncodeToString(sum[:]),
	}); err != nil {
		tb.Fatal(err)
	}
}

// newEnv starts the API; configure changes its Config.
func newEnv(tb testing.TB, configure ...func(*Config)) *env {
	tb.Helper()
	e := &env{}
	e.ca, e.pki, e.caDir = openCA(tb, tenant)
	path := filepath.Join(tb.TempDir(), "api.db")
	st, err := store.Open(context.Background(), path)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { _ = st.Close() })
	e.st = st
	e.db, err = sql.Open("sqlite", "file:"+path+"?mode=ro")
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { _ = e.db.Close() })
	cfg := Config{
		Tenant: tenant, Store: st, CA: e.ca, Intermediate: e.ca.Intermediate(),
		CAURL: "https://ca.acme.test", APIURL: "https://api.acme.test",
	}
	for _, c := range configure {
		c(&cfg)
	}
	e.h, err = New(cfg)
	if err != nil {
		tb.Fatal(err)
	}
	e.srv = httptest.NewServer(e.h)
	tb.Cleanup(e.srv.Close)
	e.admin = e.addAdmin(tb, 1000, RoleSysadmin, tenant)
	return e
}

// devices counts device rows.
func (e *env) devices(tb testing.TB) int {
	tb.Helper()
	var n int
	if err := e.db.QueryRow(`SELECT COUNT(*) FROM devices`).Scan(&n); err != nil {
		tb.Fatal(err)
	}
	return n
}

// audits returns the number of audit entries, after verifying the chain.
func (e *env) audits(tb testing.TB) int64 {
	tb.Helper()
	head, err := e.st.VerifyAudit(context.Background())
	if err != nil {
		tb.Fatal(err)
	}
	return head.Seq
}

// post sends body with a content type and returns the status and body.
func (e *env) post(tb testing.TB, path, ctype string, body []byte) (int, []byte) {
	tb.Helper()
	req, err := http.NewRequest(http.MethodPost, e.srv.URL+path, bytes.NewReader(body))
	if err != nil {
		tb.Fatal(err)
	}
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	resp, err := e.srv.Client().Do(req)
	if err != nil {
		tb.Fatal(err)
	}
	defer resp.Body.Close()
	var buf bytes.Buffer
	if _, err := buf.ReadFrom(resp.Body); err != nil {
		tb.Fatal(err)
	}
	return resp.StatusCode, buf.Bytes()
}

// ceremony is one enrollment as the laptop and the admin build it; tests
// change fields between its steps.
type ceremony struct {
	fingerprint string
	deviceKey   *ecdsa.PrivateKey
	wgKey       string
	challenge   protocol.Challenge
	stmt        protocol.Statement
	signer      *ecdsa.PrivateKey
	chain       []*x509.Certificate
	csr         string
}

func wgKey() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	return base64.StdEncoding.EncodeToString(b)
}

// deviceCSR is the PEM CSR of key naming the device's URI and the WireGuard
// key wg's, as the laptop sends it; edit changes the template first.
func deviceCSR(tb testing.TB, key *ecdsa.PrivateKey, wg string, edit func(*x509.CertificateRequest)) string {
	tb.Helper()
	uri, err := protocol.WireGuardURI(wg)
	if err != nil {
		tb.Fatal(err)
	}
	u, err := url.Parse(uri)
	if err != nil {
		tb.Fatal(err)
	}
	spki, err := x509.MarshalPKIXPublicKey(&key.PublicKey)
	if err != nil {
		tb.Fatal(err)
	}
	tmpl := &x509.CertificateRequest{URIs: []*url.URL{protocol.DeviceURI(tenant, protocol.DeviceID(protocol.DeviceKeyHash(spki))), u}}
	if edit != nil {
		edit(tmpl)
	}
	der, err := x509.CreateCertificateRequest(rand.Reader, tmpl, key)
	if err != nil {
		tb.Fatal(err)
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: der}))
}

// begin asks the API for a challenge and prepares a valid statement, signer
// and CSR.
func (e *env) begin(tb testing.TB) *ceremony {
	tb.Helper()
	c := &ceremony{
		fingerprint: fmt.Sprintf("hw-%d-%d", time.Now().UnixNano(), e.seq.Add(1)),
		deviceKey:   newKey(tb),
		wgKey:       wgKey(),
		signer:      e.admin.key,
		chain:       []*x509.Certificate{e.admin.cert},
	}
	return e.challenge(tb, c)
}

// challenge (re)requests the challenge for c's device parameters.
func (e *env) challenge(tb testing.TB, c *ceremony) *ceremony {
	tb.Helper()
	spki, err := x509.MarshalPKIXPublicKey(&c.deviceKey.PublicKey)
	if err != nil {
		tb.Fatal(err)
	}
	body, _ := json.Marshal(protocol.ChallengeRequest{Operation: protocol.OpEnrollDevice, Tenant: tenant, Params: map[string]string{
		protocol.ParamHardwareFingerprint: c.fingerprint,
		protocol.ParamDeviceKeySHA256:     protocol.DeviceKeyHash(spki),
		protocol.ParamWireGuardPublicKey:  c.wgKey,
	}})
	status, resp := e.post(tb, "/v1/challenges", "application/json", body)
	if status != http.StatusCreated {
		tb.Fatalf("challenge: %d %s", status, resp)
	}
	if err := json.Unmarshal(resp, &c.challenge); err != nil {
		tb.Fatal(err)
	}
	if err := c.challenge.Validate(); err != nil {
		tb.Fatal(err)
	}
	c.stmt = protocol.Statement{
		Operation: protocol.OpEnrollDevice, Tenant: tenant, Timestamp: protocol.FormatTimestamp(time.Now()),
		YubiKeySerial: e.admin.serial, Nonce: c.challenge.Nonce, Digest: c.challenge.Digest,
		HardwareFingerprint: c.fingerprint, DeviceKeySHA256: protocol.DeviceKeyHash(spki), WireGuardPublicKey: c.wgKey,
	}
	c.csr = deviceCSR(tb, c.deviceKey, c.wgKey, nil)
	return c
}

// redigest recomputes the statement's digest after a change to its content.
func (c *ceremony) redigest(tb testing.TB) {
	tb.Helper()
	d, err := c.stmt.CanonicalOperation().Digest()
	if err != nil {
		tb.Fatal(err)
	}
	c.stmt.Digest = d
}

// compact signs c.stmt with c.signer under an x5c of c.chain, without the
// checks protocol.Sign makes, so that tests can build bad statements.
func (c *ceremony) compact(tb testing.TB) string {
	tb.Helper()
	var x5c []string
	for _, cert := range c.chain {
		x5c = append(x5c, base64.StdEncoding.EncodeToString(cert.Raw))
	}
	hj, _ := json.Marshal(protocol.Header{Alg: protocol.AlgES256, Typ: protocol.MediaType, X5C: x5c})
	pj, _ := json.Marshal(c.stmt)
	input := protocol.SigningInput(hj, pj)
	sum := sha256.Sum256(input)
	r, s, err := ecdsa.Sign(rand.Reader, c.signer, sum[:])
	if err != nil {
		tb.Fatal(err)
	}
	sig := make([]byte, 64)
	r.FillBytes(sig[:32])
	s.FillBytes(sig[32:])
	return string(input) + "." + base64.RawURLEncoding.EncodeToString(sig)
}

// body is the JSON request of c.
func (c *ceremony) body(tb testing.TB) []byte {
	tb.Helper()
	b, err := json.Marshal(protocol.EnrollRequest{Statement: c.compact(tb), CSR: c.csr})
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

func TestEnrollHappyPath(t *testing.T) {
	e := newEnv(t)
	c := e.begin(t)
	if len(c.challenge.RequiredRoles) != 1 || c.challenge.RequiredRoles[0] != RoleSysadmin {
		t.Fatalf("required roles %v, want [sysadmin]", c.challenge.RequiredRoles)
	}
	// The laptop's real signing path.
	compact, err := protocol.Sign(context.Background(), protocol.SignerFrom(c.signer), c.chain, &c.stmt)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := json.Marshal(protocol.EnrollRequest{Statement: compact, CSR: c.csr})
	before := e.audits(t)
	status, resp := e.post(t, "/v1/enrollments", "application/json", body)
	if status != http.StatusCreated {
		t.Fatalf("status %d: %s", status, resp)
	}
	var er protocol.EnrollResponse
	if err := protocol.DecodeJSON(bytes.NewReader(resp), protocol.MaxResponseBytes, &er); err != nil {
		t.Fatal(err)
	}
	blk, _ := pem.Decode([]byte(er.Certificate))
	leaf, err := x509.ParseCertificate(blk.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	roots, inter := x509.NewCertPool(), x509.NewCertPool()
	if !roots.AppendCertsFromPEM([]byte(er.Root)) || len(er.Chain) != 1 || !inter.AppendCertsFromPEM([]byte(er.Chain[0])) {
		t.Fatalf("root or chain missing: %+v", er)
	}
	if _, err := leaf.Verify(x509.VerifyOptions{Roots: roots, Intermediates: inter, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}); err != nil {
		t.Fatalf("device certificate does not verify: %v", err)
	}
	if got := leaf.NotAfter.Sub(leaf.NotBefore); got != DeviceLifetime+ca.Backdate {
		t.Errorf("validity %s, want 24h plus backdate", got)
	}
	if !leaf.PublicKey.(*ecdsa.PublicKey).Equal(&c.deviceKey.PublicKey) {
		t.Error("certificate is not for the device key")
	}
	wgURI, _ := protocol.WireGuardURI(c.wgKey)
	if len(leaf.URIs) != 2 || leaf.URIs[0].String() != ca.DeviceURI(tenant, er.DeviceID).String() || leaf.URIs[1].String() != wgURI {
		t.Errorf("URIs %v, want the device URI of %s and the WireGuard key's %s", leaf.URIs, er.DeviceID, wgURI)
	}
	want := protocol.AgentConfig{Version: 1, Tenant: tenant, DeviceID: er.DeviceID, CAURL: "https://ca.acme.test",
		RootFingerprint: e.ca.Fingerprint(), APIURL: "https://api.acme.test"}
	if er.Config != want {
		t.Errorf("config %+v, want %+v", er.Config, want)
	}
	dev, err := e.st.DeviceByFingerprint(context.Background(), c.fingerprint)
	if err != nil {
		t.Fatal(err)
	}
	if dev.ID != er.DeviceID || dev.EnrolledBy != e.admin.serial || dev.WireGuardPublicKey != c.wgKey ||
		len(dev.Certificates) != 1 || dev.Certificates[0].Serial != hex.EncodeToString(leaf.SerialNumber.Bytes()) {
		t.Errorf("device row %+v does not match the enrollment", dev)
	}
	n, err := e.st.LookupNonce(context.Background(), c.stmt.Nonce)
	if err != nil || n.UsedAt.IsZero() {
		t.Errorf("nonce not consumed: %+v, %v", n, err)
	}
	entries, err := e.st.AuditEntries(context.Background(), before, 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 1 || entries[0].Result != resultAccepted || entries[0].Actor != e.admin.serial ||
		entries[0].ParamsDigest != c.stmt.Digest || entries[0].Operation != protocol.OpEnrollDevice {
		t.Errorf("audit after success = %+v, want one accepted entry", entries)
	}
}
