package attest

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"errors"
	"math/big"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// fixtureDir returns ../shared/fixtures/yubikey/attestation beside the module root.
func fixtureDir(t testing.TB) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			break
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("module root not found")
		}
		dir = parent
	}
	fx := filepath.Join(dir, "..", "shared", "fixtures", "yubikey", "attestation")
	if _, err := os.Stat(fx); err != nil {
		t.Fatalf("real YubiKey fixtures missing at %s: the repository expects ../shared beside it: %v", fx, err)
	}
	return fx
}

func loadCert(t testing.TB, path string) *x509.Certificate {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	c, err := ParseCertificatePEM(b)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return c
}

func TestRealYubiKeyChains(t *testing.T) {
	fx := fixtureDir(t)
	for _, tc := range []struct {
		dir      string
		serial   uint32
		firmware string
	}{
		{"yk-5.4.3-23852774", 23852774, "5.4.3"},
		{"yk-5.7.1-29173673", 29173673, "5.7.1"},
	} {
		t.Run(tc.dir, func(t *testing.T) {
			f9 := loadCert(t, filepath.Join(fx, tc.dir, "intermediate-f9.pem"))
			slot := loadCert(t, filepath.Join(fx, tc.dir, "attestation-9a.pem"))
			a, err := Verify(f9, slot)
			if err != nil {
				t.Fatalf("Verify: %v", err)
			}
			// The fixture README says PIN policy once and touch always; the
			// certificates' policy extension is 01 01 (never, never), and the
			// certificates are the ground truth.
			want := Attestation{Serial: tc.serial, Firmware: tc.firmware, FormFactor: "USB-C keychain",
				PINPolicy: "never", TouchPolicy: "never", Slot: "9a", Root: "Yubico PIV Root CA Serial 263751"}
			a.PublicKey = nil
			if *a != want {
				t.Errorf("Verify = %+v\nwant     %+v", *a, want)
			}
			if _, err := (Verifier{}).VerifyKey(f9, slot, slot.PublicKey); err != nil {
				t.Errorf("VerifyKey with the attested key: %v", err)
			}
		})
	}
}

func TestRealChainsRejected(t *testing.T) {
	fx := fixtureDir(t)
	f9a := loadCert(t, filepath.Join(fx, "yk-5.4.3-23852774", "intermediate-f9.pem"))
	slotA := loadCert(t, filepath.Join(fx, "yk-5.4.3-23852774", "attestation-9a.pem"))
	f9b := loadCert(t, filepath.Join(fx, "yk-5.7.1-29173673", "intermediate-f9.pem"))
	slotB := loadCert(t, filepath.Join(fx, "yk-5.7.1-29173673", "attestation-9a.pem"))
	otherKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	testRoot, _ := newCA(t, "Test Root", nil, nil)
	testPool := x509.NewCertPool()
	testPool.AddCert(testRoot)

	for _, tc := range []struct {
		name    string
		run     func() error
		wantErr error
	}{
		{"pair mixed across keys", func() error { _, err := Verify(f9a, slotB); return err }, ErrChain},
		{"pair mixed the other way", func() error { _, err := Verify(f9b, slotA); return err }, ErrChain},
		{"Yubico root not trusted", func() error { _, err := Verifier{Roots: testPool}.Verify(f9a, slotA); return err }, ErrChain},
		{"presented with another key", func() error {
			_, err := Verifier{}.VerifyKey(f9a, slotA, otherKey.Public())
			return err
		}, ErrKeyMismatch},
		{"after the chain expired", func() error {
			_, err := Verifier{Now: func() time.Time { return time.Date(2053, 1, 1, 0, 0, 0, 0, time.UTC) }}.Verify(f9a, slotA)
			return err
		}, ErrChain},
		{"slot statement used as f9", func() error { _, err := Verify(slotA, slotA); return err }, ErrChain},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if err := tc.run(); !errors.Is(err, tc.wantErr) {
				t.Fatalf("err = %v, want %v", err, tc.wantErr)
			}
		})
	}
}

// TestEveryByteMatters flips each byte of the real attestation certificates:
// no changed certificate may verify.
func TestEveryByteMatters(t *testing.T) {
	fx := fixtureDir(t)
	f9 := loadCert(t, filepath.Join(fx, "yk-5.7.1-29173673", "intermediate-f9.pem"))
	slot := loadCert(t, filepath.Join(fx, "yk-5.7.1-29173673", "attestation-9a.pem"))
	for which, raw := range map[string][]byte{"f9": f9.Raw, "9a": slot.Raw} {
		for i := range raw {
			mod := append([]byte(nil), raw...)
			mod[i] ^= 0x01
			c, err := x509.ParseCertificate(mod)
			if err != nil {
				continue // no longer a certificate: rejected before verification
			}
			var verr error
			if which == "f9" {
				_, verr = Verify(c, slot)
			} else {
				_, verr = Verify(f9, c)
			}
			if verr == nil {
				t.Fatalf("%s with byte %d flipped still verifies", which, i)
			}
		}
	}
}

func TestEmbeddedYubicoPKI(t *testing.T) {
	// The new PKI's middle tiers must chain to Yubico Attestation Root 1.
	roots := YubicoRoots()
	inter := YubicoIntermediates()
	n := 0
	for _, der := range pemCerts(t, yubicoPIVIntermediates) {
		c, err := x509.ParseCertificate(der)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := c.Verify(x509.VerifyOptions{Roots: roots, Intermediates: inter, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny}}); err != nil {
			t.Errorf("%s does not chain to Yubico's roots: %v", c.Subject.CommonName, err)
		}
		n++
	}
	if n != 4 {
		t.Errorf("embedded %d intermediates, want 4 (Intermediate A 1, B 1, PIV Attestation A 1, B 1)", n)
	}
}

// TestFourTierPKI builds a hierarchy of the 5.7.4+ shape (root → intermediate
// → PIV attestation CA → f9 → slot) with test keys: the verifier must walk
// it, name the root, and refuse it without the middle tiers.
func TestFourTierPKI(t *testing.T) {
	root, rootKey := newCA(t, "Test Attestation Root 1", nil, nil)
	mid, midKey := newCA(t, "Test Attestation Intermediate A 1", root, rootKey)
	piv, pivKey := newCA(t, "Test PIV Attestation A 1", mid, midKey)
	f9, f9Key := newCA(t, "Yubico PIV Attestation", piv, pivKey)
	slotKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	slot := newSlotCert(t, f9, f9Key, slotKey.Public(), 12345678, []byte{5, 7, 4}, []byte{2, 2}, 0x03)

	roots := x509.NewCertPool()
	roots.AddCert(root)
	inter := x509.NewCertPool()
	inter.AddCert(mid)
	inter.AddCert(piv)
	a, err := Verifier{Roots: roots, Intermediates: inter}.VerifyKey(f9, slot, slotKey.Public())
	if err != nil {
		t.Fatalf("VerifyKey: %v", err)
	}
	if a.Serial != 12345678 || a.Firmware != "5.7.4" || a.Root != "Test Attestation Root 1" || a.PINPolicy != "once" || a.TouchPolicy != "always" || a.Slot != "9a" {
		t.Errorf("got %+v", a)
	}
	if _, err := (Verifier{Roots: roots}).Verify(f9, slot); !errors.Is(err, ErrChain) {
		t.Errorf("without the middle tiers: err = %v, want ErrChain", err)
	}
}

func TestMalformedExtensions(t *testing.T) {
	root, rootKey := newCA(t, "Test Root", nil, nil)
	pool := x509.NewCertPool()
	pool.AddCert(root)
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	for _, tc := range []struct {
		name     string
		firmware []byte
		policy   []byte
	}{
		{"short firmware", []byte{5, 7}, []byte{2, 2}},
		{"unknown PIN policy", []byte{5, 7, 1}, []byte{9, 2}},
		{"unknown touch policy", []byte{5, 7, 1}, []byte{2, 9}},
		{"no firmware", nil, []byte{2, 2}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			slot := newSlotCert(t, root, rootKey, key.Public(), 1, tc.firmware, tc.policy, 0)
			f9 := root
			_, err := Verifier{Roots: pool}.Verify(f9, slot)
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("err = %v, want ErrMalformed", err)
			}
		})
	}
}

func TestParseCertificatePEM(t *testing.T) {
	fx := fixtureDir(t)
	good, _ := os.ReadFile(filepath.Join(fx, "yubico-piv-root-ca.pem"))
	for _, tc := range []struct {
		name  string
		input []byte
		ok    bool
	}{
		{"PEM", good, true},
		{"DER", pemCerts(t, good)[0], true},
		{"empty", nil, false},
		{"garbage", []byte("hello"), false},
		{"two certificates", append(append([]byte{}, good...), good...), false},
		{"private key block", []byte("-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n"), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseCertificatePEM(tc.input)
			if (err == nil) != tc.ok {
				t.Fatalf("err = %v, want ok=%v", err, tc.ok)
			}
		})
	}
}

func TestFormFactorName(t *testing.T) {
	for code, want := range map[byte]string{0: "", 0x03: "USB-C keychain", 0x83: "USB-C keychain FIPS", 0x01: "USB-A keychain", 0x42: "unknown (0x42)"} {
		if got := FormFactorName(code); got != want {
			t.Errorf("FormFactorName(0x%02x) = %q, want %q", code, got, want)
		}
	}
}

func FuzzVerify(f *testing.F) {
	fx := fixtureDir(f)
	f9, _ := os.ReadFile(filepath.Join(fx, "yk-5.4.3-23852774", "intermediate-f9.pem"))
	slot, _ := os.ReadFile(filepath.Join(fx, "yk-5.4.3-23852774", "attestation-9a.pem"))
	f.Add(f9, slot)
	f.Add([]byte("-----BEGIN CERTIFICATE-----\n-----END CERTIFICATE-----\n"), []byte{0x30, 0x03, 0x02, 0x01, 0x01})
	f.Fuzz(func(t *testing.T, a, b []byte) {
		ca, err1 := ParseCertificatePEM(a)
		cb, err2 := ParseCertificatePEM(b)
		if err1 != nil || err2 != nil {
			return
		}
		att, err := Verify(ca, cb)
		if err == nil && (att.Firmware == "" || att.PINPolicy == "") {
			t.Fatalf("verified attestation without its facts: %+v", att)
		}
	})
}

// Helpers that build test PKIs.

func pemCerts(t testing.TB, data []byte) [][]byte {
	t.Helper()
	var out [][]byte
	pool := data
	for {
		c, rest := decodePEM(pool)
		if c == nil {
			break
		}
		out = append(out, c)
		pool = rest
	}
	return out
}

var serialCounter int64 = 100

func newCA(t testing.TB, cn string, parent *x509.Certificate, parentKey crypto.Signer) (*x509.Certificate, crypto.Signer) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	serialCounter++
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(serialCounter),
		Subject:               pkix.Name{CommonName: cn},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign,
	}
	if parent == nil {
		parent, parentKey = tmpl, key
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, key.Public(), parentKey)
	if err != nil {
		t.Fatal(err)
	}
	c, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return c, key
}

func newSlotCert(t testing.TB, f9 *x509.Certificate, f9Key crypto.Signer, pub crypto.PublicKey, serial int64, firmware, policy []byte, formFactor byte) *x509.Certificate {
	t.Helper()
	serialDER, _ := asn1.Marshal(serial)
	var exts []pkix.Extension
	if firmware != nil {
		exts = append(exts, pkix.Extension{Id: oidFirmware, Value: firmware})
	}
	exts = append(exts, pkix.Extension{Id: oidSerial, Value: serialDER})
	if policy != nil {
		exts = append(exts, pkix.Extension{Id: oidPolicy, Value: policy})
	}
	if formFactor != 0 {
		exts = append(exts, pkix.Extension{Id: oidFormFactor, Value: []byte{formFactor}})
	}
	serialCounter++
	tmpl := &x509.Certificate{
		SerialNumber:    big.NewInt(serialCounter),
		Subject:         pkix.Name{CommonName: "YubiKey PIV Attestation 9a"},
		NotBefore:       time.Now().Add(-time.Hour),
		NotAfter:        time.Now().Add(24 * time.Hour),
		ExtraExtensions: exts,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, f9, pub, f9Key)
	if err != nil {
		t.Fatal(err)
	}
	c, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return c
}
