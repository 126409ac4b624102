//go:build linux && cgo

package conformance

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/sha256"
	"testing"

	"github.com/go-piv/piv-go/v2/piv"

	"github.com/kiwistack/endpoint/test/pcsctest"
)

// BenchmarkVerifyPINAndSign measures one PIN verification plus one P-256
// signature with slot 9a (PIN policy always, touch policy always with an
// immediate touch) through pcscd and vpcd with piv-go: the cost of the
// enrollment signature path against a virtual key.
func BenchmarkVerifyPINAndSign(b *testing.B) {
	k := pcsctest.Start(b, pcsctest.Options{Version: "5.7.1"})
	k.Card().SetTouchDelay(0)
	yk, err := piv.Open(k.Reader)
	if err != nil {
		b.Fatal(err)
	}
	defer yk.Close()
	pub, err := yk.GenerateKey(piv.DefaultManagementKey, piv.SlotAuthentication, piv.Key{Algorithm: piv.AlgorithmEC256, PINPolicy: piv.PINPolicyAlways, TouchPolicy: piv.TouchPolicyAlways})
	if err != nil {
		b.Fatal(err)
	}
	priv, err := yk.PrivateKey(piv.SlotAuthentication, pub, piv.KeyAuth{PIN: piv.DefaultPIN, PINPolicy: piv.PINPolicyAlways})
	if err != nil {
		b.Fatal(err)
	}
	signer := priv.(crypto.Signer)
	digest := sha256.Sum256([]byte("enroll_device"))
	b.ResetTimer()
	for b.Loop() {
		sig, err := signer.Sign(rand.Reader, digest[:], crypto.SHA256)
		if err != nil {
			b.Fatal(err)
		}
		if !ecdsa.VerifyASN1(pub.(*ecdsa.PublicKey), digest[:], sig) {
			b.Fatal("bad signature")
		}
	}
}
