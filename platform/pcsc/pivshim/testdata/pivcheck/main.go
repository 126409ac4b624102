// Command pivcheck drives a YubiKey through piv-go and prints what it saw as
// JSON. pivshim's tests build it with CGO_ENABLED=0 and the pcsc overlay, for
// every target, and run it against a virtual YubiKey on Linux.
//
//	pivcheck                       list readers
//	pivcheck -reader R -pin P      serial, version, PIN check, a new P-256
//	                               key in slot 9a and a signature with it
package main

import (
	"crypto"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/json"
	"flag"
	"fmt"
	"os"

	"github.com/go-piv/piv-go/v2/piv"
)

// result is what pivcheck prints; empty fields were not asked for.
type result struct {
	Readers   []string `json:"readers,omitempty"`
	Serial    uint32   `json:"serial,omitempty"`
	Version   string   `json:"version,omitempty"`
	PublicKey []byte   `json:"public_key,omitempty"` // PKIX DER
	Digest    []byte   `json:"digest,omitempty"`
	Signature []byte   `json:"signature,omitempty"` // ASN.1 ECDSA
	Error     string   `json:"error,omitempty"`
}

func main() {
	reader := flag.String("reader", "", "reader of the YubiKey to drive; none: list readers")
	pin := flag.String("pin", piv.DefaultPIN, "PIN to verify and sign with")
	flag.Parse()

	var r result
	err := run(&r, *reader, *pin)
	if err != nil {
		r.Error = err.Error()
	}
	if err := json.NewEncoder(os.Stdout).Encode(r); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	if r.Error != "" {
		os.Exit(1)
	}
}

func run(r *result, reader, pin string) error {
	if reader == "" {
		readers, err := piv.Cards()
		r.Readers = readers
		return err
	}
	yk, err := piv.Open(reader)
	if err != nil {
		return err
	}
	defer yk.Close()
	if r.Serial, err = yk.Serial(); err != nil {
		return fmt.Errorf("reading serial: %w", err)
	}
	v := yk.Version()
	r.Version = fmt.Sprintf("%d.%d.%d", v.Major, v.Minor, v.Patch)
	if err := yk.VerifyPIN(pin); err != nil {
		return fmt.Errorf("verifying pin: %w", err)
	}
	pub, err := yk.GenerateKey(piv.DefaultManagementKey, piv.SlotAuthentication, piv.Key{
		Algorithm:   piv.AlgorithmEC256,
		PINPolicy:   piv.PINPolicyOnce,
		TouchPolicy: piv.TouchPolicyNever,
	})
	if err != nil {
		return fmt.Errorf("generating key in 9a: %w", err)
	}
	if r.PublicKey, err = x509.MarshalPKIXPublicKey(pub); err != nil {
		return fmt.Errorf("encoding public key: %w", err)
	}
	priv, err := yk.PrivateKey(piv.SlotAuthentication, pub, piv.KeyAuth{PIN: pin})
	if err != nil {
		return fmt.Errorf("opening key in 9a: %w", err)
	}
	signer, ok := priv.(crypto.Signer)
	if !ok {
		return fmt.Errorf("key in 9a is a %T, not a crypto.Signer", priv)
	}
	digest := sha256.Sum256([]byte("kiwistack pivshim check"))
	r.Digest = digest[:]
	if r.Signature, err = signer.Sign(rand.Reader, digest[:], crypto.SHA256); err != nil {
		return fmt.Errorf("signing with 9a: %w", err)
	}
	return nil
}
