//go:build linux

package yubikey_test

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"math/big"
	"sync"
	"testing"
	"time"

	"github.com/kiwistack/endpoint/attest"
	"github.com/kiwistack/endpoint/enroll/yubikey"
	"github.com/kiwistack/endpoint/test/pcsctest"
	"github.com/kiwistack/endpoint/test/vyubikey/card"
)

// scriptUI answers PIN prompts from a list and records what it was asked.
type scriptUI struct {
	mu      sync.Mutex
	pins    []string
	asked   []yubikey.PINRequest
	touches int
	choose  int
	secrets []string
}

func (u *scriptUI) PIN(_ context.Context, req yubikey.PINRequest) (string, error) {
	u.mu.Lock()
	defer u.mu.Unlock()
	u.asked = append(u.asked, req)
	if len(u.pins) == 0 {
		return "", yubikey.ErrCanceled
	}
	p := u.pins[0]
	u.pins = u.pins[1:]
	return p, nil
}

func (u *scriptUI) Touch(yubikey.Info) func() {
	u.mu.Lock()
	u.touches++
	u.mu.Unlock()
	return func() {}
}

func (u *scriptUI) Choose(_ context.Context, keys []yubikey.Info) (int, error) { return u.choose, nil }

func (u *scriptUI) Secret(_ context.Context, req yubikey.SecretRequest) (string, error) {
	u.mu.Lock()
	defer u.mu.Unlock()
	if len(u.secrets) == 0 {
		return "", yubikey.ErrCanceled
	}
	s := u.secrets[0]
	u.secrets = u.secrets[1:]
	return s, nil
}

// testCA is a tenant intermediate for admin certificates.
type testCA struct {
	cert *x509.Certificate
	key  crypto.Signer
}

func newTestCA(t testing.TB) *testCA {
	t.Helper()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "acme-corp Intermediate CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(48 * time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		t.Fatal(err)
	}
	c, _ := x509.ParseCertificate(der)
	return &testCA{cert: c, key: key}
}

// issue certifies the CSR's key after checking the CSR's signature and that
// the attestation attests that key, as the API does.
func (ca *testCA) issue(_ context.Context, req yubikey.IssueRequest) (*x509.Certificate, error) {
	if err := req.CSR.CheckSignature(); err != nil {
		return nil, err
	}
	if _, err := attest.ParseUnverified(req.Attestation); err != nil {
		return nil, err
	}
	if !req.Attestation.PublicKey.(*ecdsa.PublicKey).Equal(req.CSR.PublicKey) {
		return nil, errors.New("the CSR is not signed by the attested key")
	}
	pub := req.CSR.PublicKey
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(time.Now().UnixNano()), Subject: req.CSR.Subject,
		NotBefore: time.Now().Add(-time.Minute), NotAfter: time.Now().Add(24 * time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, pub, ca.key)
	if err != nil {
		return nil, err
	}
	return x509.ParseCertificate(der)
}

// openKey opens the virtual key through the enroller's client and closes it
// when the test ends.
func openKey(tb testing.TB, vk *pcsctest.Key) *yubikey.Key {
	tb.Helper()
	k, err := client(vk).Open(context.Background(), vk.Serial, nil)
	if err != nil {
		tb.Fatalf("opening virtual YubiKey %d: %v", vk.Serial, err)
	}
	tb.Cleanup(func() { k.Close() })
	return k
}

// client looks only at the readers of the given virtual keys, so that tests
// of other packages running at the same time are not disturbed (opening a
// reader takes it exclusively for a moment).
func client(keys ...*pcsctest.Key) *yubikey.Client {
	var readers []string
	for _, k := range keys {
		readers = append(readers, k.Reader)
	}
	return yubikey.NewClient(yubikey.WithReaders(readers...))
}

func verifierFor(k *pcsctest.Key) attest.Verifier {
	pool := x509.NewCertPool()
	pool.AddCert(k.Root)
	return attest.Verifier{Roots: pool}
}

// provision provisions the virtual key as John Doe, sysadmin of acme-corp,
// and returns its new secrets.
func provision(t testing.TB, vk *pcsctest.Key) yubikey.Credentials {
	t.Helper()
	ctx := context.Background()
	k := openKey(t, vk)
	defer k.Close() // release the card for the caller now, not at the end of the test
	creds, err := yubikey.NewCredentials(nil)
	if err != nil {
		t.Fatal(err)
	}
	saved := false
	res, err := k.Provision(ctx, yubikey.ProvisionRequest{
		Admin: "John Doe", Role: "sysadmin", Tenant: "acme-corp",
		Current: yubikey.FactoryDefaults(), New: creds,
		SaveNew:  func(yubikey.Credentials) error { saved = true; return nil },
		Issue:    newTestCA(t).issue,
		Verifier: verifierFor(vk),
	})
	if err != nil {
		t.Fatalf("Provision: %v", err)
	}
	if !saved {
		t.Error("the new secrets were not saved")
	}
	if res.Serial != vk.Serial || res.Attestation.Serial != vk.Serial || res.Attestation.PINPolicy != "once" || res.Attestation.TouchPolicy != "always" {
		t.Errorf("provisioned %+v, attestation %+v", res, res.Attestation)
	}
	return creds
}

func TestListAndOpen(t *testing.T) {
	a := pcsctest.Start(t, pcsctest.Options{Version: "5.7.1"})
	b := pcsctest.Start(t, pcsctest.Options{Version: "5.4.3"})
	ctx := context.Background()
	c := client(a, b)
	keys, _, err := c.List(ctx)
	if err != nil {
		t.Fatal(err)
	}
	found := map[uint32]yubikey.Info{}
	for _, k := range keys {
		found[k.Serial] = k
	}
	for _, vk := range []*pcsctest.Key{a, b} {
		info, ok := found[vk.Serial]
		if !ok {
			t.Fatalf("List did not find serial %d: %+v", vk.Serial, keys)
		}
		if info.Reader != vk.Reader || info.PINRetries != 3 || info.Slot9a != nil {
			t.Errorf("key %d: %+v", vk.Serial, info)
		}
	}
	if found[a.Serial].Firmware != "5.7.1" || found[b.Serial].Firmware != "5.4.3" {
		t.Errorf("firmware: %q, %q", found[a.Serial].Firmware, found[b.Serial].Firmware)
	}

	t.Run("by serial", func(t *testing.T) {
		k, err := c.Open(ctx, b.Serial, nil)
		if err != nil {
			t.Fatal(err)
		}
		defer k.Close()
		if k.Info().Serial != b.Serial {
			t.Errorf("opened %d, want %d", k.Info().Serial, b.Serial)
		}
	})
	t.Run("unknown serial", func(t *testing.T) {
		_, err := c.Open(ctx, 99999999, nil)
		if !errors.Is(err, yubikey.ErrNotFound) {
			t.Errorf("err = %v, want ErrNotFound", err)
		}
	})
	t.Run("several without a choice", func(t *testing.T) {
		_, err := c.Open(ctx, 0, nil)
		if err == nil {
			t.Fatal("Open(0) with two keys succeeded without a choice")
		}
	})
	t.Run("several, chosen", func(t *testing.T) {
		keys, _, _ := c.List(ctx)
		want := -1
		for i, k := range keys {
			if k.Serial == a.Serial {
				want = i
			}
		}
		k, err := c.Open(ctx, 0, &scriptUI{choose: want})
		if err != nil {
			t.Fatal(err)
		}
		defer k.Close()
		if k.Info().Serial != a.Serial {
			t.Errorf("opened %d, want the chosen %d", k.Info().Serial, a.Serial)
		}
	})
}

func TestNoKey(t *testing.T) {
	vk := pcsctest.Start(t, pcsctest.Options{})
	vk.Unplug()
	_, err := client(vk).Open(context.Background(), vk.Serial, nil)
	if !errors.Is(err, yubikey.ErrNotFound) && !errors.Is(err, yubikey.ErrNoKey) {
		t.Fatalf("err = %v, want ErrNotFound or ErrNoKey", err)
	}
}

func TestProvisionAndSign(t *testing.T) {
	for _, version := range []string{"5.7.1", "5.4.3"} {
		t.Run(version, func(t *testing.T) {
			vk := pcsctest.Start(t, pcsctest.Options{Version: version})
			creds := provision(t, vk)
			ctx := context.Background()
			c := client(vk)

			keys, _, err := c.List(ctx)
			if err != nil {
				t.Fatal(err)
			}
			var info *yubikey.Info
			for i := range keys {
				if keys[i].Serial == vk.Serial {
					info = &keys[i]
				}
			}
			if info == nil || info.Slot9a == nil || info.Slot9a.Admin != "John Doe" || info.Slot9a.Role != "sysadmin" || info.Slot9a.Tenant != "acme-corp" {
				t.Fatalf("after provisioning, List shows %+v", info)
			}

			k, err := c.Open(ctx, vk.Serial, nil)
			if err != nil {
				t.Fatal(err)
			}
			defer k.Close()
			ui := &scriptUI{pins: []string{creds.PIN}}
			digest := sha256.Sum256([]byte("enroll_device challenge"))
			sig, pub, err := k.Sign(ctx, ui, digest[:], crypto.SHA256, "sign")
			if err != nil {
				t.Fatalf("Sign: %v", err)
			}
			if !ecdsa.VerifyASN1(pub.(*ecdsa.PublicKey), digest[:], sig) {
				t.Fatal("signature does not verify with the slot's public key")
			}
			cert, err := k.Certificate()
			if err != nil {
				t.Fatal(err)
			}
			if !cert.PublicKey.(*ecdsa.PublicKey).Equal(pub) {
				t.Error("the slot certificate is for another key")
			}
			if len(ui.asked) != 1 || ui.asked[0].Retries != 3 || ui.touches != 1 {
				t.Errorf("asked %+v, touches %d; want one PIN prompt with 3 tries and one touch", ui.asked, ui.touches)
			}
			// The factory PIN no longer works.
			if err := k.VerifyPIN(ctx, &scriptUI{pins: []string{"123456"}}, "test"); !errors.Is(err, yubikey.ErrWrongPIN) {
				t.Errorf("factory PIN after provisioning: err = %v, want ErrWrongPIN", err)
			}
		})
	}
}

func TestPINPaths(t *testing.T) {
	vk := pcsctest.Start(t, pcsctest.Options{})
	creds := provision(t, vk)
	ctx := context.Background()
	open := func(t *testing.T) *yubikey.Key {
		k, err := client(vk).Open(ctx, vk.Serial, nil)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { k.Close() })
		return k
	}
	retries := func(t *testing.T) int {
		k := open(t)
		defer k.Close()
		return k.Info().PINRetries
	}
	digest := sha256.Sum256([]byte("x"))

	t.Run("canceled prompt spends no try", func(t *testing.T) {
		k := open(t)
		_, _, err := k.Sign(ctx, &scriptUI{}, digest[:], crypto.SHA256, "sign")
		if !errors.Is(err, yubikey.ErrCanceled) {
			t.Fatalf("err = %v, want ErrCanceled", err)
		}
		k.Close()
		if n := retries(t); n != 3 {
			t.Errorf("retries = %d after a canceled prompt, want 3: a PIN the person did not type was tried", n)
		}
	})
	t.Run("malformed PIN spends no try", func(t *testing.T) {
		k := open(t)
		if _, _, err := k.Sign(ctx, &scriptUI{pins: []string{"12"}}, digest[:], crypto.SHA256, "sign"); err == nil {
			t.Fatal("a 2-digit PIN was accepted")
		}
		k.Close()
		if n := retries(t); n != 3 {
			t.Errorf("retries = %d, want 3", n)
		}
	})
	t.Run("wrong then right", func(t *testing.T) {
		k := open(t)
		ui := &scriptUI{pins: []string{"00000000", creds.PIN}}
		if _, _, err := k.Sign(ctx, ui, digest[:], crypto.SHA256, "sign"); err != nil {
			t.Fatal(err)
		}
		if len(ui.asked) != 2 || !ui.asked[1].Again || ui.asked[1].Retries != 2 {
			t.Errorf("prompts = %+v; want a second prompt saying 2 tries left", ui.asked)
		}
	})
	t.Run("blocked", func(t *testing.T) {
		k := open(t)
		ui := &scriptUI{pins: []string{"00000000", "00000001", "00000002", creds.PIN}}
		_, _, err := k.Sign(ctx, ui, digest[:], crypto.SHA256, "sign")
		var pe *yubikey.PINError
		if !errors.Is(err, yubikey.ErrPINBlocked) || !errors.As(err, &pe) || pe.Retries != 0 {
			t.Fatalf("err = %v, want a blocked PIN", err)
		}
		if len(ui.asked) != 3 {
			t.Errorf("asked %d times, want 3", len(ui.asked))
		}
		// Once blocked, nobody is asked for a PIN at all.
		ui2 := &scriptUI{pins: []string{creds.PIN}}
		if _, _, err := k.Sign(ctx, ui2, digest[:], crypto.SHA256, "sign"); !errors.Is(err, yubikey.ErrPINBlocked) {
			t.Errorf("err = %v, want ErrPINBlocked", err)
		}
		if len(ui2.asked) != 0 {
			t.Error("a blocked PIN was prompted for")
		}
	})
}

func TestTouchTimeout(t *testing.T) {
	vk := pcsctest.Start(t, pcsctest.Options{Touch: card.TouchManual, TouchTimeout: time.Second})
	// Provisioning signs a CSR with the new key: touch it once, then never.
	touched := make(chan bool, 1)
	go func() {
		deadline := time.Now().Add(10 * time.Second)
		for time.Now().Before(deadline) {
			if vk.Card().Touch() {
				touched <- true
				return
			}
			time.Sleep(10 * time.Millisecond)
		}
		touched <- false
	}()
	creds := provision(t, vk)
	if !<-touched {
		t.Fatal("provisioning asked for no touch")
	}
	ctx := context.Background()
	k := openKey(t, vk)
	digest := sha256.Sum256([]byte("x"))
	ui := &scriptUI{pins: []string{creds.PIN}}
	_, _, err := k.Sign(ctx, ui, digest[:], crypto.SHA256, "sign")
	if !errors.Is(err, yubikey.ErrTouchTimeout) {
		t.Fatalf("err = %v, want ErrTouchTimeout", err)
	}
	if ui.touches != 1 {
		t.Errorf("touch prompt shown %d times, want 1", ui.touches)
	}
}

func TestProvisionWrongCurrentPIN(t *testing.T) {
	vk := pcsctest.Start(t, pcsctest.Options{})
	ctx := context.Background()
	k := openKey(t, vk)
	creds, _ := yubikey.NewCredentials(nil)
	cur := yubikey.FactoryDefaults()
	cur.PIN = "11111111"
	saved := false
	_, err := k.Provision(ctx, yubikey.ProvisionRequest{
		Admin: "John Doe", Role: "sysadmin", Tenant: "acme-corp", Current: cur, New: creds,
		SaveNew: func(yubikey.Credentials) error { saved = true; return nil },
		Issue:   newTestCA(t).issue, Verifier: verifierFor(vk),
	})
	if !errors.Is(err, yubikey.ErrWrongPIN) {
		t.Fatalf("err = %v, want ErrWrongPIN", err)
	}
	if saved {
		t.Error("new secrets were saved although nothing may change")
	}
	// The factory PIN still works: nothing was changed.
	if err := k.VerifyPIN(ctx, &scriptUI{pins: []string{"123456"}}, "test"); err != nil {
		t.Errorf("factory PIN after a refused provisioning: %v", err)
	}
}

func TestProvisionUntrustedAttestation(t *testing.T) {
	vk := pcsctest.Start(t, pcsctest.Options{})
	ctx := context.Background()
	k := openKey(t, vk)
	creds, _ := yubikey.NewCredentials(nil)
	issued := false
	_, err := k.Provision(ctx, yubikey.ProvisionRequest{
		Admin: "John Doe", Role: "sysadmin", Tenant: "acme-corp", Current: yubikey.FactoryDefaults(), New: creds,
		SaveNew: func(yubikey.Credentials) error { return nil },
		Issue: func(context.Context, yubikey.IssueRequest) (*x509.Certificate, error) {
			issued = true
			return nil, errors.New("must not be called")
		},
		Verifier: attest.Verifier{}, // Yubico's roots: the virtual key's test root is not among them
	})
	if !errors.Is(err, attest.ErrChain) {
		t.Fatalf("err = %v, want attest.ErrChain", err)
	}
	if issued {
		t.Error("a certificate was issued for a key whose attestation does not verify")
	}
}

func TestChangeAndUnblockPIN(t *testing.T) {
	vk := pcsctest.Start(t, pcsctest.Options{})
	creds := provision(t, vk)
	ctx := context.Background()
	k := openKey(t, vk)

	if err := k.ChangePIN(ctx, &scriptUI{pins: []string{creds.PIN}, secrets: []string{"24681357"}}); err != nil {
		t.Fatalf("ChangePIN: %v", err)
	}
	if err := k.VerifyPIN(ctx, &scriptUI{pins: []string{"24681357"}}, "test"); err != nil {
		t.Fatalf("the new PIN does not verify: %v", err)
	}
	// A wrong current PIN reports the tries left.
	err := k.ChangePIN(ctx, &scriptUI{pins: []string{creds.PIN}, secrets: []string{"11223344"}})
	var pe *yubikey.PINError
	if !errors.As(err, &pe) || pe.Retries != 2 {
		t.Fatalf("ChangePIN with the old PIN: err = %v, want a wrong PIN with 2 tries left", err)
	}
	// Block the PIN, then unblock it with the PUK.
	_ = k.VerifyPIN(ctx, &scriptUI{pins: []string{"00000000", "00000001", "00000002"}}, "test")
	if err := k.VerifyPIN(ctx, &scriptUI{pins: []string{"24681357"}}, "test"); !errors.Is(err, yubikey.ErrPINBlocked) {
		t.Fatalf("after three wrong PINs: err = %v, want ErrPINBlocked", err)
	}
	err = k.UnblockPIN(ctx, &scriptUI{secrets: []string{"99999999", "13572468"}})
	var ke *yubikey.PUKError
	if !errors.As(err, &ke) || ke.Retries != 2 {
		t.Fatalf("UnblockPIN with a wrong PUK: err = %v, want a wrong PUK with 2 tries left", err)
	}
	if err := k.UnblockPIN(ctx, &scriptUI{secrets: []string{creds.PUK, "13572468"}}); err != nil {
		t.Fatalf("UnblockPIN: %v", err)
	}
	if err := k.VerifyPIN(ctx, &scriptUI{pins: []string{"13572468"}}, "test"); err != nil {
		t.Fatalf("the PIN set with the PUK does not verify: %v", err)
	}
}

// BenchmarkVerifyPINAndSign measures what the enroller does for one
// signature with a provisioned key, through pcscd and the virtual key with
// an immediate touch: read the retry counter, verify the PIN, read slot 9a's
// metadata, sign a SHA-256 digest with P-256. A real YubiKey 5 takes about
// 100-200 ms for the same, most of it in the secure element.
func BenchmarkVerifyPINAndSign(b *testing.B) {
	vk := pcsctest.Start(b, pcsctest.Options{Version: "5.7.1"})
	vk.Card().SetTouchDelay(-1)
	creds := provision(b, vk)
	ctx := context.Background()
	k := openKey(b, vk)
	digest := sha256.Sum256([]byte("enroll_device challenge"))
	for b.Loop() {
		ui := &scriptUI{pins: []string{creds.PIN}}
		if err := k.VerifyPIN(ctx, ui, "sign"); err != nil {
			b.Fatal(err)
		}
		if _, _, err := k.Sign(ctx, ui, digest[:], crypto.SHA256, "sign"); err != nil {
			b.Fatal(err)
		}
	}
}
