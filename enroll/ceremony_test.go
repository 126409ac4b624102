package enroll

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"io/fs"
	"math/big"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/kiwistack/endpoint/enroll/protocol"
	"github.com/kiwistack/endpoint/internal/pemkey"
	"github.com/kiwistack/endpoint/platform/paths"
)

func TestCheckEnrollOptions(t *testing.T) {
	good := EnrollOptions{APIURL: "https://enroll.acme.example", Tenant: "acme-corp", RootFingerprint: strings.Repeat("ab", 32)}
	if err := CheckEnrollOptions(good); err != nil {
		t.Fatal(err)
	}
	for name, mod := range map[string]func(*EnrollOptions){
		"no api":             func(o *EnrollOptions) { o.APIURL = "" },
		"http":               func(o *EnrollOptions) { o.APIURL = "http://enroll.acme.example" },
		"credentials in url": func(o *EnrollOptions) { o.APIURL = "https://u:p@enroll.acme.example" },
		"query":              func(o *EnrollOptions) { o.APIURL = "https://enroll.acme.example/?x=1" },
		"bad tenant":         func(o *EnrollOptions) { o.Tenant = "Acme Corp" },
		"short fingerprint":  func(o *EnrollOptions) { o.RootFingerprint = "abcd" },
		"non-hex":            func(o *EnrollOptions) { o.RootFingerprint = strings.Repeat("zz", 32) },
		"hw override short":  func(o *EnrollOptions) { o.HardwareFingerprint = "abc" },
		"hw override space":  func(o *EnrollOptions) { o.HardwareFingerprint = "hw1:abcdef 0123456789" },
		"hw override ctrl":   func(o *EnrollOptions) { o.HardwareFingerprint = "hw1:abcdef\x000123456789" },
	} {
		t.Run(name, func(t *testing.T) {
			o := good
			mod(&o)
			if err := CheckEnrollOptions(o); err == nil {
				t.Fatal("accepted")
			}
		})
	}
}

// testPKI is a root, an intermediate and a device certificate as the API
// would return them.
type testPKI struct {
	root, inter *x509.Certificate
	interKey    *ecdsa.PrivateKey
	deviceKey   *ecdsa.PrivateKey
	deviceID    string
	resp        *protocol.EnrollResponse
	opts        EnrollOptions
}

func newKeyT(t *testing.T) *ecdsa.PrivateKey {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func mkCert(t *testing.T, tmpl, parent *x509.Certificate, pub any, key *ecdsa.PrivateKey) *x509.Certificate {
	t.Helper()
	tmpl.SerialNumber = big.NewInt(time.Now().UnixNano())
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, pub, key)
	if err != nil {
		t.Fatal(err)
	}
	c, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func pemOf(c *x509.Certificate) string {
	return string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Raw}))
}

func newTestPKI(t *testing.T, lifetime time.Duration) *testPKI {
	t.Helper()
	now := time.Now()
	rk, ik, dk := newKeyT(t), newKeyT(t), newKeyT(t)
	caTmpl := func(cn string) *x509.Certificate {
		return &x509.Certificate{Subject: pkix.Name{CommonName: cn}, NotBefore: now.Add(-time.Hour), NotAfter: now.Add(time.Hour * 1000),
			IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}
	}
	root := mkCert(t, caTmpl("root"), caTmpl("root"), &rk.PublicKey, rk)
	inter := mkCert(t, caTmpl("acme-corp Intermediate CA"), root, &ik.PublicKey, rk)
	spki, _ := x509.MarshalPKIXPublicKey(&dk.PublicKey)
	id := protocol.DeviceID(protocol.DeviceKeyHash(spki))
	leaf := mkCert(t, &x509.Certificate{Subject: pkix.Name{CommonName: id, Organization: []string{"acme-corp"}},
		NotBefore: now.Add(-time.Minute), NotAfter: now.Add(lifetime - time.Minute),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}, inter, &dk.PublicKey, ik)
	sum := sha256.Sum256(root.Raw)
	fp := hex.EncodeToString(sum[:])
	return &testPKI{root: root, inter: inter, interKey: ik, deviceKey: dk, deviceID: id,
		opts: EnrollOptions{APIURL: "https://a.example", Tenant: "acme-corp", RootFingerprint: fp},
		resp: &protocol.EnrollResponse{DeviceID: id, Certificate: pemOf(leaf), Chain: []string{pemOf(inter)}, Root: pemOf(root),
			Config: protocol.AgentConfig{Version: 1, Tenant: "acme-corp", DeviceID: id, CAURL: "https://a.example", RootFingerprint: fp, APIURL: "https://a.example"}}}
}

func TestCheckResponse(t *testing.T) {
	p := newTestPKI(t, 24*time.Hour)
	if _, _, _, err := checkResponse(p.resp, p.opts, p.deviceID, p.deviceKey, time.Now()); err != nil {
		t.Fatalf("a good answer is refused: %v", err)
	}
	other := newTestPKI(t, 24*time.Hour)
	long := newTestPKI(t, 30*24*time.Hour)
	for name, mod := range map[string]func(r *protocol.EnrollResponse, o *EnrollOptions, id *string){
		"other device id": func(r *protocol.EnrollResponse, _ *EnrollOptions, _ *string) { r.DeviceID = "d-other" },
		"other tenant":    func(r *protocol.EnrollResponse, _ *EnrollOptions, _ *string) { r.Config.Tenant = "evil" },
		"unpinned root": func(_ *protocol.EnrollResponse, o *EnrollOptions, _ *string) {
			o.RootFingerprint = strings.Repeat("00", 32)
		},
		"foreign root":      func(r *protocol.EnrollResponse, _ *EnrollOptions, _ *string) { r.Root = other.resp.Root },
		"foreign chain":     func(r *protocol.EnrollResponse, _ *EnrollOptions, _ *string) { r.Chain = other.resp.Chain },
		"another key":       func(r *protocol.EnrollResponse, _ *EnrollOptions, _ *string) { r.Certificate = other.resp.Certificate },
		"longer than 24 h":  func(r *protocol.EnrollResponse, _ *EnrollOptions, _ *string) { *r = *long.resp },
		"garbage cert":      func(r *protocol.EnrollResponse, _ *EnrollOptions, _ *string) { r.Certificate = "garbage" },
		"two certs as leaf": func(r *protocol.EnrollResponse, _ *EnrollOptions, _ *string) { r.Certificate += r.Root },
		"key block in root": func(r *protocol.EnrollResponse, _ *EnrollOptions, _ *string) {
			r.Root = "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n"
		},
	} {
		t.Run(name, func(t *testing.T) {
			r := *p.resp
			o := p.opts
			id := p.deviceID
			mod(&r, &o, &id)
			if _, _, _, err := checkResponse(&r, o, id, p.deviceKey, time.Now()); err == nil || !strings.Contains(err.Error(), "nothing was installed") {
				t.Fatalf("err = %v, want a refusal", err)
			}
		})
	}
}

func TestInstallWritesFilesWithModesAndRecordLast(t *testing.T) {
	p := newTestPKI(t, 24*time.Hour)
	leaf, chain, root, err := checkResponse(p.resp, p.opts, p.deviceID, p.deviceKey, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	layout := paths.Under(dir)
	if err := checkNotEnrolled(layout, false); err != nil {
		t.Fatalf("fresh root: %v", err)
	}
	// A world-readable secrets directory left by someone else is tightened.
	if err := os.MkdirAll(strings.TrimSuffix(layout.DeviceKey(), "/device.key"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := Install(layout, p.deviceKey, leaf, chain, root, p.resp.Config); err != nil {
		t.Fatal(err)
	}
	for path, want := range map[string]fs.FileMode{
		layout.DeviceKey(): 0o600, layout.DeviceCert(): 0o644, layout.RootCert(): 0o644,
		layout.StepDefaults(): 0o644, layout.Enrollment(): 0o644,
		strings.TrimSuffix(layout.DeviceKey(), "/device.key"): 0o700 | fs.ModeDir,
	} {
		fi, err := os.Stat(path)
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode() != want {
			t.Errorf("%s: mode %v, want %v", path, fi.Mode(), want)
		}
	}
	keyPEM, err := os.ReadFile(layout.DeviceKey())
	if err != nil {
		t.Fatal(err)
	}
	key, err := pemkey.ParseECDSA(keyPEM)
	if err != nil {
		t.Fatal(err)
	}
	if !p.deviceKey.Equal(key) {
		t.Error("installed key is not the device key")
	}
	rec, err := ReadEnrollment(layout)
	if err != nil {
		t.Fatal(err)
	}
	if rec.DeviceID != p.deviceID || rec.Key != layout.DeviceKey() || rec.Root != layout.RootCert() {
		t.Errorf("record %+v", rec)
	}
	// Enrolled now: a second enrollment is refused unless --reenroll.
	err = checkNotEnrolled(layout, false)
	if err == nil || !strings.Contains(err.Error(), p.deviceID) || !strings.Contains(err.Error(), "--reenroll") {
		t.Errorf("second enrollment: %v", err)
	}
	if err := checkNotEnrolled(layout, true); err != nil {
		t.Errorf("--reenroll: %v", err)
	}
	// A damaged record is reported as such.
	if err := os.WriteFile(layout.Enrollment(), []byte("{"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := ReadEnrollment(layout); err == nil || errors.Is(err, fs.ErrNotExist) {
		t.Errorf("damaged record: %v", err)
	}
}

func TestLeftoversWithoutRecordAreNotAnEnrollment(t *testing.T) {
	layout := paths.Under(t.TempDir())
	if err := os.MkdirAll(strings.TrimSuffix(layout.DeviceKey(), "/device.key"), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(layout.DeviceKey(), []byte("left over"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := checkNotEnrolled(layout, false); err != nil {
		t.Errorf("an interrupted installation blocks enrollment: %v", err)
	}
}
