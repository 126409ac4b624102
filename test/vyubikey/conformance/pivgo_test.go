//go:build linux && cgo

package conformance

import (
	"bytes"
	"crypto"
	"crypto/ecdh"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"math/big"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/go-piv/piv-go/v2/piv"

	"github.com/kiwistack/endpoint/test/pcsctest"
	"github.com/kiwistack/endpoint/test/vyubikey/card"
)

// versions are the firmware versions every piv-go test runs against.
var versions = []string{"5.4.3", "5.7.1"}

// open starts a key and opens it with piv-go.
func open(t *testing.T, opts pcsctest.Options) (*pcsctest.Key, *piv.YubiKey) {
	t.Helper()
	k := pcsctest.Start(t, opts)
	yk, err := piv.Open(k.Reader)
	if err != nil {
		t.Fatalf("piv.Open(%q): %v", k.Reader, err)
	}
	t.Cleanup(func() { yk.Close() })
	return k, yk
}

func TestPivGoOpenVersionSerial(t *testing.T) {
	for _, v := range versions {
		t.Run(v, func(t *testing.T) {
			k, yk := open(t, pcsctest.Options{Serial: 23852774, Version: v})
			readers, err := piv.Cards()
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Contains(readers, k.Reader) {
				t.Errorf("piv.Cards() = %q, want it to list %q", readers, k.Reader)
			}
			if got := yk.Version(); got.Major != 5 || got.Minor != int(v[2]-'0') || got.Patch != int(v[4]-'0') {
				t.Errorf("Version() = %+v, want %s", got, v)
			}
			s, err := yk.Serial()
			if err != nil || s != 23852774 || k.Serial != 23852774 {
				t.Errorf("Serial() = %d, %v; Key.Serial %d; want 23852774", s, err, k.Serial)
			}
			ff, err := yk.FormFactor()
			if err != nil || ff != piv.FormfactorUSBCKeychain {
				t.Errorf("FormFactor() = %v, %v; want USB-C keychain", ff, err)
			}
		})
	}
}

func TestPivGoPIN(t *testing.T) {
	for _, v := range versions {
		t.Run(v, func(t *testing.T) {
			_, yk := open(t, pcsctest.Options{Version: v})
			if n, err := yk.Retries(); err != nil || n != 3 {
				t.Fatalf("Retries() = %d, %v; want 3", n, err)
			}
			var ae piv.AuthErr
			if err := yk.VerifyPIN("000000"); !errors.As(err, &ae) || ae.Retries != 2 {
				t.Fatalf("VerifyPIN(wrong) = %v, want AuthErr{2}", err)
			}
			if n, _ := yk.Retries(); n != 2 {
				t.Errorf("Retries() after a wrong PIN = %d, want 2 (an empty VERIFY must not spend a try)", n)
			}
			if err := yk.VerifyPIN(piv.DefaultPIN); err != nil {
				t.Fatalf("VerifyPIN(default): %v", err)
			}
			// An empty VERIFY in a verified session answers 9000, which
			// piv-go reports as an error, as with a real key.
			if _, err := yk.Retries(); err == nil {
				t.Error("Retries() in a verified session succeeded, want piv-go's 9000 error")
			}
			for range 3 {
				yk.VerifyPIN("999999")
			}
			if err := yk.VerifyPIN(piv.DefaultPIN); !errors.As(err, &ae) || ae.Retries != 0 {
				t.Fatalf("VerifyPIN on a blocked PIN = %v, want AuthErr{0} (6983)", err)
			}
			if err := yk.Unblock("00000000", "654321"); !errors.As(err, &ae) || ae.Retries != 2 {
				t.Fatalf("Unblock(wrong PUK) = %v, want AuthErr{2}", err)
			}
			if err := yk.Unblock(piv.DefaultPUK, "654321"); err != nil {
				t.Fatalf("Unblock: %v", err)
			}
			if err := yk.VerifyPIN("654321"); err != nil {
				t.Fatalf("VerifyPIN(new) after unblock: %v", err)
			}
			if err := yk.SetPIN("654321", "11223344"); err != nil {
				t.Fatalf("SetPIN: %v", err)
			}
			if err := yk.SetPIN("654321", "22334455"); !errors.As(err, &ae) {
				t.Fatalf("SetPIN(wrong old) = %v, want AuthErr", err)
			}
			if err := yk.VerifyPIN("11223344"); err != nil {
				t.Fatalf("VerifyPIN(changed): %v", err)
			}
			if err := yk.SetPUK(piv.DefaultPUK, "87654321"); err != nil {
				t.Fatalf("SetPUK: %v", err)
			}
			if err := yk.SetPUK(piv.DefaultPUK, "87654321"); !errors.As(err, &ae) || ae.Retries != 2 {
				t.Fatalf("SetPUK(old PUK again) = %v, want AuthErr{2}", err)
			}
			if err := yk.SetPIN("11223344", "12"); err == nil {
				t.Fatal("SetPIN to a 2-digit PIN succeeded, want an error")
			}
		})
	}
}

func TestPivGoSetRetries(t *testing.T) {
	for _, v := range versions {
		t.Run(v, func(t *testing.T) {
			_, yk := open(t, pcsctest.Options{Version: v})
			if err := yk.SetPIN(piv.DefaultPIN, "24681357"); err != nil {
				t.Fatal(err)
			}
			if err := yk.SetRetries(piv.DefaultManagementKey, "24681357", 5, 7); err != nil {
				t.Fatalf("SetRetries: %v", err)
			}
			// SET PIN RETRIES puts PIN and PUK back to their defaults.
			var ae piv.AuthErr
			if err := yk.VerifyPIN("24681357"); !errors.As(err, &ae) || ae.Retries != 4 {
				t.Fatalf("VerifyPIN(old) after SetRetries = %v, want AuthErr{4}", err)
			}
			if err := yk.VerifyPIN(piv.DefaultPIN); err != nil {
				t.Fatalf("VerifyPIN(default) after SetRetries: %v", err)
			}
			if err := yk.SetRetries(piv.DefaultManagementKey, piv.DefaultPIN, 0, 3); err == nil {
				t.Fatal("SetRetries(0) succeeded")
			}
		})
	}
}

func TestPivGoManagementKey(t *testing.T) {
	tests := []struct {
		version string
		alg     string
	}{
		{"5.4.3", "3DES"},
		{"5.7.1", "AES-192"},
	}
	for _, tt := range tests {
		t.Run(tt.version+"/"+tt.alg, func(t *testing.T) {
			k, yk := open(t, pcsctest.Options{Version: tt.version})
			c := k.Card()
			meta := c.Transmit([]byte{0x00, 0xf7, 0x00, 0x9b})
			wantAlg := map[string]byte{"3DES": 0x03, "AES-192": 0x0a}[tt.alg]
			if len(meta) < 3 || meta[2] != wantAlg {
				t.Fatalf("management key metadata %x, want algorithm %02x", meta, wantAlg)
			}
			newKey := bytes.Repeat([]byte{0x5a}, 24)
			wrong := bytes.Repeat([]byte{0x11}, 24)
			if err := yk.SetManagementKey(wrong, newKey); err == nil {
				t.Fatal("SetManagementKey with a wrong old key succeeded")
			}
			if err := yk.SetManagementKey(piv.DefaultManagementKey, newKey); err != nil {
				t.Fatalf("SetManagementKey: %v", err)
			}
			if _, err := yk.GenerateKey(piv.DefaultManagementKey, piv.SlotAuthentication, piv.Key{Algorithm: piv.AlgorithmEC256, PINPolicy: piv.PINPolicyNever, TouchPolicy: piv.TouchPolicyNever}); err == nil {
				t.Fatal("GenerateKey with the old default key succeeded")
			}
			if _, err := yk.GenerateKey(newKey, piv.SlotAuthentication, piv.Key{Algorithm: piv.AlgorithmEC256, PINPolicy: piv.PINPolicyNever, TouchPolicy: piv.TouchPolicyNever}); err != nil {
				t.Fatalf("GenerateKey with the new key: %v", err)
			}
			if err := yk.SetManagementKey(newKey, piv.DefaultManagementKey); err != nil {
				t.Fatalf("SetManagementKey back: %v", err)
			}
			// piv-go's protected metadata object stores a key behind the PIN.
			if err := yk.SetMetadata(piv.DefaultManagementKey, &piv.Metadata{ManagementKey: &newKey}); err != nil {
				t.Fatalf("SetMetadata: %v", err)
			}
			m, err := yk.Metadata(piv.DefaultPIN)
			if err != nil || m.ManagementKey == nil || !bytes.Equal(*m.ManagementKey, newKey) {
				t.Fatalf("Metadata() = %+v, %v", m, err)
			}
		})
	}
}

// testCert is a certificate for pub signed by a throwaway CA.
func testCert(t *testing.T, pub crypto.PublicKey, cn string) *x509.Certificate {
	t.Helper()
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(42),
		Subject:      pkix.Name{CommonName: cn, OrganizationalUnit: []string{"admins"}, Organization: []string{"tenant"}},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, pub, caKey)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return cert
}

func TestPivGoGenerateSignECDHCertAttest(t *testing.T) {
	tests := []struct {
		version string
		alg     piv.Algorithm
		curve   elliptic.Curve
		hash    crypto.Hash
	}{
		{"5.4.3", piv.AlgorithmEC256, elliptic.P256(), crypto.SHA256},
		{"5.4.3", piv.AlgorithmEC384, elliptic.P384(), crypto.SHA384},
		{"5.7.1", piv.AlgorithmEC256, elliptic.P256(), crypto.SHA256},
		{"5.7.1", piv.AlgorithmEC384, elliptic.P384(), crypto.SHA384},
	}
	for _, tt := range tests {
		t.Run(tt.version+"/"+tt.curve.Params().Name, func(t *testing.T) {
			k, yk := open(t, pcsctest.Options{Version: tt.version, Serial: 31415926})
			pub, err := yk.GenerateKey(piv.DefaultManagementKey, piv.SlotAuthentication, piv.Key{
				Algorithm: tt.alg, PINPolicy: piv.PINPolicyOnce, TouchPolicy: piv.TouchPolicyAlways,
			})
			if err != nil {
				t.Fatalf("GenerateKey: %v", err)
			}
			ecPub := pub.(*ecdsa.PublicKey)
			if ecPub.Curve != tt.curve {
				t.Fatalf("curve %s, want %s", ecPub.Curve.Params().Name, tt.curve.Params().Name)
			}
			priv, err := yk.PrivateKey(piv.SlotAuthentication, pub, piv.KeyAuth{PIN: piv.DefaultPIN})
			if err != nil {
				t.Fatal(err)
			}
			h := tt.hash.New()
			h.Write([]byte("enroll_device challenge"))
			digest := h.Sum(nil)
			sig, err := priv.(crypto.Signer).Sign(rand.Reader, digest, tt.hash)
			if err != nil {
				t.Fatalf("Sign: %v", err)
			}
			if !ecdsa.VerifyASN1(ecPub, digest, sig) {
				t.Fatal("signature does not verify with crypto/ecdsa")
			}

			peer, err := ecdsa.GenerateKey(tt.curve, rand.Reader)
			if err != nil {
				t.Fatal(err)
			}
			shared, err := priv.(*piv.ECDSAPrivateKey).SharedKey(&peer.PublicKey)
			if err != nil {
				t.Fatalf("SharedKey: %v", err)
			}
			peerECDH, _ := peer.ECDH()
			cardECDH, _ := ecPub.ECDH()
			want, err := peerECDH.ECDH(cardECDH)
			if err != nil || !bytes.Equal(shared, want) {
				t.Fatalf("ECDH with the card = %x, software = %x (%v)", shared, want, err)
			}

			cert := testCert(t, pub, "alice")
			if err := yk.SetCertificate(piv.DefaultManagementKey, piv.SlotAuthentication, cert); err != nil {
				t.Fatalf("SetCertificate: %v", err)
			}
			got, err := yk.Certificate(piv.SlotAuthentication)
			if err != nil || !bytes.Equal(got.Raw, cert.Raw) {
				t.Fatalf("Certificate() = %v, want the stored certificate", err)
			}
			if _, err := yk.Certificate(piv.SlotSignature); !errors.Is(err, piv.ErrNotFound) {
				t.Errorf("Certificate(empty slot) = %v, want ErrNotFound", err)
			}

			att, err := yk.Attest(piv.SlotAuthentication)
			if err != nil {
				t.Fatalf("Attest: %v", err)
			}
			f9, err := yk.AttestationCertificate()
			if err != nil {
				t.Fatalf("AttestationCertificate: %v", err)
			}
			pool := x509.NewCertPool()
			pool.AddCert(k.Root)
			a, err := (&piv.Verifier{Roots: pool}).Verify(f9, att)
			if err != nil {
				t.Fatalf("piv.Verifier with the test root: %v", err)
			}
			if a.Serial != 31415926 || a.Slot != piv.SlotAuthentication || a.PINPolicy != piv.PINPolicyOnce ||
				a.TouchPolicy != piv.TouchPolicyAlways || a.Formfactor != piv.FormfactorUSBCKeychain ||
				a.Version.Major != 5 || a.Version.Minor != int(tt.version[2]-'0') {
				t.Errorf("attestation %+v does not describe the key", a)
			}
			if !att.PublicKey.(*ecdsa.PublicKey).Equal(pub) {
				t.Error("attested public key differs from the generated one")
			}
			if _, err := piv.Verify(f9, att); err == nil {
				t.Error("piv.Verify with Yubico's roots accepted a virtual key's attestation")
			}
			if _, err := yk.Attest(piv.SlotSignature); !errors.Is(err, piv.ErrNotFound) {
				t.Errorf("Attest(empty slot) = %v, want ErrNotFound", err)
			}
		})
	}
}

func TestPivGoRSAAndEd25519(t *testing.T) {
	t.Run("5.4.3/RSA-2048", func(t *testing.T) {
		_, yk := open(t, pcsctest.Options{Version: "5.4.3"})
		pub, err := yk.GenerateKey(piv.DefaultManagementKey, piv.SlotKeyManagement, piv.Key{Algorithm: piv.AlgorithmRSA2048, PINPolicy: piv.PINPolicyNever, TouchPolicy: piv.TouchPolicyNever})
		if err != nil {
			t.Fatalf("GenerateKey: %v", err)
		}
		priv, err := yk.PrivateKey(piv.SlotKeyManagement, pub, piv.KeyAuth{})
		if err != nil {
			t.Fatal(err)
		}
		digest := sha256.Sum256([]byte("hello"))
		sig, err := priv.(crypto.Signer).Sign(rand.Reader, digest[:], crypto.SHA256)
		if err != nil {
			t.Fatalf("Sign: %v", err)
		}
		if err := rsa.VerifyPKCS1v15(pub.(*rsa.PublicKey), crypto.SHA256, digest[:], sig); err != nil {
			t.Fatalf("RSA signature: %v", err)
		}
		// What piv-go's Decrypt expects: a PKCS #1 v1.5 type 2 block (built
		// by hand, the standard library deprecates the scheme), raw RSA.
		rpub := pub.(*rsa.PublicKey)
		block := make([]byte, rpub.Size())
		block[1] = 2
		for i := 2; i < len(block)-7; i++ {
			block[i] = 0xab
		}
		copy(block[len(block)-6:], "secret")
		ct := new(big.Int).Exp(new(big.Int).SetBytes(block), big.NewInt(int64(rpub.E)), rpub.N).FillBytes(make([]byte, rpub.Size()))
		pt, err := priv.(crypto.Decrypter).Decrypt(rand.Reader, ct, nil)
		if err != nil || string(pt) != "secret" {
			t.Fatalf("Decrypt = %q, %v", pt, err)
		}
		if _, err := yk.GenerateKey(piv.DefaultManagementKey, piv.SlotSignature, piv.Key{Algorithm: piv.AlgorithmEd25519, PINPolicy: piv.PINPolicyNever, TouchPolicy: piv.TouchPolicyNever}); err == nil {
			t.Error("5.4.3 generated an Ed25519 key, which that firmware lacks")
		}
	})
	t.Run("5.7.1/Ed25519+X25519+import", func(t *testing.T) {
		_, yk := open(t, pcsctest.Options{Version: "5.7.1"})
		pub, err := yk.GenerateKey(piv.DefaultManagementKey, piv.SlotSignature, piv.Key{Algorithm: piv.AlgorithmEd25519, PINPolicy: piv.PINPolicyNever, TouchPolicy: piv.TouchPolicyNever})
		if err != nil {
			t.Fatalf("GenerateKey(Ed25519): %v", err)
		}
		priv, err := yk.PrivateKey(piv.SlotSignature, pub, piv.KeyAuth{})
		if err != nil {
			t.Fatal(err)
		}
		sig, err := priv.(crypto.Signer).Sign(rand.Reader, []byte("message"), crypto.Hash(0))
		if err != nil || !ed25519.Verify(pub.(ed25519.PublicKey), []byte("message"), sig) {
			t.Fatalf("Ed25519 signature: %v", err)
		}
		xpub, err := yk.GenerateKey(piv.DefaultManagementKey, piv.SlotKeyManagement, piv.Key{Algorithm: piv.AlgorithmX25519, PINPolicy: piv.PINPolicyNever, TouchPolicy: piv.TouchPolicyNever})
		if err != nil {
			t.Fatalf("GenerateKey(X25519): %v", err)
		}
		xpriv, err := yk.PrivateKey(piv.SlotKeyManagement, xpub, piv.KeyAuth{})
		if err != nil {
			t.Fatal(err)
		}
		peer, _ := ecdh.X25519().GenerateKey(rand.Reader)
		shared, err := xpriv.(*piv.X25519PrivateKey).ECDH(peer.PublicKey())
		want, _ := peer.ECDH(xpub.(*ecdh.PublicKey))
		if err != nil || !bytes.Equal(shared, want) {
			t.Fatalf("X25519 = %x, %v; want %x", shared, err, want)
		}
		imported, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		if err := yk.SetPrivateKeyInsecure(piv.DefaultManagementKey, piv.SlotCardAuthentication, imported, piv.Key{PINPolicy: piv.PINPolicyNever, TouchPolicy: piv.TouchPolicyNever}); err != nil {
			t.Fatalf("SetPrivateKeyInsecure: %v", err)
		}
		info, err := yk.KeyInfo(piv.SlotCardAuthentication)
		if err != nil || info.Origin != piv.OriginImported || !info.PublicKey.(*ecdsa.PublicKey).Equal(&imported.PublicKey) {
			t.Fatalf("KeyInfo(imported) = %+v, %v", info, err)
		}
		if _, err := yk.Attest(piv.SlotCardAuthentication); !errors.Is(err, piv.ErrNotFound) {
			t.Errorf("Attest(imported key) = %v, want ErrNotFound: only generated keys are attested", err)
		}
	})
}

func TestPivGoPINPolicies(t *testing.T) {
	tests := []struct {
		policy   piv.PINPolicy
		wantFail bool // signing without a PIN in the session fails
	}{
		{piv.PINPolicyNever, false},
		{piv.PINPolicyOnce, true},
		{piv.PINPolicyAlways, true},
	}
	for _, tt := range tests {
		t.Run(map[piv.PINPolicy]string{1: "never", 2: "once", 3: "always"}[tt.policy], func(t *testing.T) {
			k, yk := open(t, pcsctest.Options{Version: "5.7.1"})
			pub, err := yk.GenerateKey(piv.DefaultManagementKey, piv.SlotSignature, piv.Key{Algorithm: piv.AlgorithmEC256, PINPolicy: tt.policy, TouchPolicy: piv.TouchPolicyNever})
			if err != nil {
				t.Fatal(err)
			}
			info, err := yk.KeyInfo(piv.SlotSignature)
			if err != nil || info.PINPolicy != tt.policy || info.Origin != piv.OriginGenerated {
				t.Fatalf("KeyInfo = %+v, %v", info, err)
			}
			digest := sha256.Sum256([]byte("x"))
			noPIN, _ := yk.PrivateKey(piv.SlotSignature, pub, piv.KeyAuth{PINPolicy: piv.PINPolicyNever})
			_, err = noPIN.(crypto.Signer).Sign(rand.Reader, digest[:], crypto.SHA256)
			if (err != nil) != tt.wantFail {
				t.Fatalf("Sign without PIN: err = %v, want failure %v", err, tt.wantFail)
			}
			withPIN, _ := yk.PrivateKey(piv.SlotSignature, pub, piv.KeyAuth{PIN: piv.DefaultPIN})
			for i := range 2 {
				if _, err := withPIN.(crypto.Signer).Sign(rand.Reader, digest[:], crypto.SHA256); err != nil {
					t.Fatalf("Sign #%d with PIN: %v", i, err)
				}
			}
			// After the PIN-authorised signatures, "always" needs the PIN
			// again while "once" keeps the session.
			_, err = noPIN.(crypto.Signer).Sign(rand.Reader, digest[:], crypto.SHA256)
			if wantFail := tt.policy == piv.PINPolicyAlways; (err != nil) != wantFail {
				t.Fatalf("second Sign without PIN: err = %v, want failure %v", err, wantFail)
			}
			_ = k
		})
	}
}

func TestPivGoTouch(t *testing.T) {
	tests := []struct {
		name   string
		mode   card.TouchMode
		policy piv.TouchPolicy
		touch  bool // the test confirms the touch (manual mode)
		ok     bool
	}{
		{"auto/always", card.TouchAuto, piv.TouchPolicyAlways, false, true},
		{"auto/cached", card.TouchAuto, piv.TouchPolicyCached, false, true},
		{"manual/always/touched", card.TouchManual, piv.TouchPolicyAlways, true, true},
		{"manual/always/untouched", card.TouchManual, piv.TouchPolicyAlways, false, false},
		{"timeout/always", card.TouchTimeout, piv.TouchPolicyAlways, false, false},
		{"timeout/never", card.TouchTimeout, piv.TouchPolicyNever, false, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			k, yk := open(t, pcsctest.Options{Version: "5.7.1", Touch: tt.mode, TouchTimeout: 500 * time.Millisecond})
			pub, err := yk.GenerateKey(piv.DefaultManagementKey, piv.SlotAuthentication, piv.Key{Algorithm: piv.AlgorithmEC256, PINPolicy: piv.PINPolicyNever, TouchPolicy: tt.policy})
			if err != nil {
				t.Fatal(err)
			}
			priv, _ := yk.PrivateKey(piv.SlotAuthentication, pub, piv.KeyAuth{PINPolicy: piv.PINPolicyNever})
			digest := sha256.Sum256([]byte("touch me"))
			done := make(chan error, 1)
			go func() {
				_, err := priv.(crypto.Signer).Sign(rand.Reader, digest[:], crypto.SHA256)
				done <- err
			}()
			if tt.touch {
				k.Touch()
			}
			err = <-done
			if (err == nil) != tt.ok {
				t.Fatalf("Sign: err = %v, want success %v", err, tt.ok)
			}
			if err != nil && !strings.Contains(err.Error(), "6982") {
				t.Errorf("untouched Sign failed with %v, want status 6982 as a real key", err)
			}
		})
	}
}

func TestPivGoReset(t *testing.T) {
	for _, v := range versions {
		t.Run(v, func(t *testing.T) {
			_, yk := open(t, pcsctest.Options{Version: v})
			if _, err := yk.GenerateKey(piv.DefaultManagementKey, piv.SlotAuthentication, piv.Key{Algorithm: piv.AlgorithmEC256, PINPolicy: piv.PINPolicyNever, TouchPolicy: piv.TouchPolicyNever}); err != nil {
				t.Fatal(err)
			}
			if err := yk.SetPIN(piv.DefaultPIN, "13572468"); err != nil {
				t.Fatal(err)
			}
			f9, err := yk.AttestationCertificate()
			if err != nil {
				t.Fatal(err)
			}
			if err := yk.Reset(); err != nil {
				t.Fatalf("Reset: %v", err)
			}
			if err := yk.VerifyPIN(piv.DefaultPIN); err != nil {
				t.Fatalf("default PIN after Reset: %v", err)
			}
			if _, err := yk.KeyInfo(piv.SlotAuthentication); err == nil {
				t.Error("slot 9a still has a key after Reset")
			}
			f9After, err := yk.AttestationCertificate()
			if err != nil || !bytes.Equal(f9.Raw, f9After.Raw) {
				t.Errorf("attestation certificate changed or vanished on Reset: %v", err)
			}
		})
	}
}

func TestPivGoPersistenceAndUnplug(t *testing.T) {
	state := filepath.Join(t.TempDir(), "key.json")
	var pub crypto.PublicKey
	t.Run("provision", func(t *testing.T) {
		k, yk := open(t, pcsctest.Options{Serial: 20240611, StateFile: state})
		var err error
		pub, err = yk.GenerateKey(piv.DefaultManagementKey, piv.SlotAuthentication, piv.Key{Algorithm: piv.AlgorithmEC384, PINPolicy: piv.PINPolicyOnce, TouchPolicy: piv.TouchPolicyNever})
		if err != nil {
			t.Fatal(err)
		}
		if err := yk.SetPIN(piv.DefaultPIN, "777888"); err != nil {
			t.Fatal(err)
		}
		yk.Close()
		k.Unplug()
		if y, err := piv.Open(k.Reader); err == nil {
			y.Close()
			t.Fatalf("piv.Open(%q) after Unplug succeeded", k.Reader)
		}
	})
	t.Run("restart", func(t *testing.T) {
		_, yk := open(t, pcsctest.Options{Serial: 20240611, StateFile: state})
		info, err := yk.KeyInfo(piv.SlotAuthentication)
		if err != nil || !info.PublicKey.(*ecdsa.PublicKey).Equal(pub) {
			t.Fatalf("KeyInfo after restart = %+v, %v; want the provisioned key", info, err)
		}
		if err := yk.VerifyPIN("777888"); err != nil {
			t.Fatalf("changed PIN lost across restart: %v", err)
		}
	})
}
