// Package attest verifies Yubico PIV attestations: the chain from a key's
// slot attestation certificate through the YubiKey's f9 certificate to one of
// Yubico's attestation roots, and the facts the attestation carries (serial,
// firmware, form factor, PIN and touch policy, slot, attested public key).
//
// Both of Yubico's PIV attestation PKIs are accepted: keys before firmware
// 5.7.4 chain f9 → "Yubico PIV Root CA Serial 263751"; keys from 5.7.4 on chain
// f9 → "Yubico PIV Attestation {A,B} 1" → "Yubico Attestation Intermediate
// {A,B} 1" → "Yubico Attestation Root 1", the two middle tiers published by
// Yubico rather than stored on the key. Yubico's public certificates are
// embedded. Verification is a pure function of its inputs: it never talks to
// a card, so the laptop and the server use the same code. It must not import
// piv-go (the server links no PC/SC).
package attest

import (
	"bytes"
	"crypto"
	"crypto/x509"
	_ "embed"
	"encoding/asn1"
	"encoding/pem"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

//go:embed certs/yubico-piv-root-ca-263751.pem
var yubicoPIVRoot263751 []byte

//go:embed certs/yubico-attestation-root-1.pem
var yubicoAttestationRoot1 []byte

//go:embed certs/yubico-piv-attestation-intermediates.pem
var yubicoPIVIntermediates []byte

// Yubico's attestation extensions
// (https://developers.yubico.com/PIV/Introduction/PIV_attestation.html).
var (
	oidFirmware   = asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 41482, 3, 3}
	oidSerial     = asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 41482, 3, 7}
	oidPolicy     = asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 41482, 3, 8}
	oidFormFactor = asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 41482, 3, 9}
)

// ErrChain reports that an attestation does not chain to a trusted root. The
// wrapped error says which link failed.
var ErrChain = errors.New("attestation does not chain to a trusted root")

// ErrMalformed reports an attestation certificate that parses as X.509 but
// lacks or garbles a Yubico extension.
var ErrMalformed = errors.New("malformed attestation")

// ErrKeyMismatch reports that the attested key is not the key presented with it.
var ErrKeyMismatch = errors.New("attested key does not match the presented key")

// Attestation is what a verified attestation proves about a key.
type Attestation struct {
	Serial      uint32           // the YubiKey's serial number
	Firmware    string           // firmware version, e.g. "5.7.1"
	FormFactor  string           // e.g. "USB-C keychain"; "" when the key does not say
	PINPolicy   string           // never, once, always, match-once, match-always
	TouchPolicy string           // never, always, cached
	Slot        string           // the PIV slot in hex, e.g. "9a"; "" when the subject names none
	PublicKey   crypto.PublicKey // the attested key
	Root        string           // the common name of the root the chain ends in
}

// Verifier checks attestations against a set of roots. The zero value trusts
// Yubico's roots (both PKIs) and uses the current time.
type Verifier struct {
	// Roots, when set, replaces Yubico's roots (for test roots and virtual keys).
	Roots *x509.CertPool
	// Intermediates are offered for chain building beside the f9
	// certificate; with nil Roots, Yubico's published intermediates are used.
	Intermediates *x509.CertPool
	// Now is the verification time; nil means time.Now.
	Now func() time.Time
}

// YubicoRoots returns Yubico's PIV attestation roots: the one for keys before
// firmware 5.7.4 and "Yubico Attestation Root 1" for later keys.
func YubicoRoots() *x509.CertPool {
	pool := x509.NewCertPool()
	for _, b := range [][]byte{yubicoPIVRoot263751, yubicoAttestationRoot1} {
		if !pool.AppendCertsFromPEM(b) {
			panic("attest: embedded Yubico root does not parse") // start-up only: embedded data
		}
	}
	return pool
}

// YubicoIntermediates returns the published middle tiers of Yubico's PKI for
// firmware 5.7.4 and later.
func YubicoIntermediates() *x509.CertPool {
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(yubicoPIVIntermediates) {
		panic("attest: embedded Yubico intermediates do not parse") // start-up only: embedded data
	}
	return pool
}

// Verify checks that slotCert (the attestation statement of a slot) was
// signed by f9Cert (the YubiKey's attestation certificate), that f9Cert chains
// to a trusted root, and returns what the attestation proves.
func (v Verifier) Verify(f9Cert, slotCert *x509.Certificate) (*Attestation, error) {
	if f9Cert == nil || slotCert == nil {
		return nil, fmt.Errorf("%w: both the f9 certificate and the slot attestation are needed", ErrMalformed)
	}
	roots, inter := v.Roots, v.Intermediates
	if roots == nil {
		roots = YubicoRoots()
		if inter == nil {
			inter = YubicoIntermediates()
		}
	}
	pool := x509.NewCertPool()
	if inter != nil {
		pool = inter.Clone()
	}
	// Some YubiKey 4 f9 certificates lack basic constraints, which RFC 5280
	// requires of an issuer; treat the f9 certificate as the CA it is. Work
	// on a copy so the caller's certificate is not modified.
	f9 := *f9Cert
	if !f9.BasicConstraintsValid {
		f9.BasicConstraintsValid = true
		f9.IsCA = true
	}
	pool.AddCert(&f9)

	now := time.Now
	if v.Now != nil {
		now = v.Now
	}
	chains, err := slotCert.Verify(x509.VerifyOptions{
		Roots:         roots,
		Intermediates: pool,
		CurrentTime:   now(),
		KeyUsages:     []x509.ExtKeyUsage{x509.ExtKeyUsageAny},
	})
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrChain, err)
	}
	// The chain must pass through this f9 certificate: a statement signed by
	// another key's f9 that happens to be in the pool does not count.
	if len(chains[0]) < 2 || !bytes.Equal(chains[0][1].Raw, f9Cert.Raw) {
		return nil, fmt.Errorf("%w: the attestation was not signed by the given f9 certificate", ErrChain)
	}
	a, err := parse(slotCert)
	if err != nil {
		return nil, err
	}
	a.Root = chains[0][len(chains[0])-1].Subject.CommonName
	return a, nil
}

// Verify checks an attestation against Yubico's roots at the current time.
func Verify(f9Cert, slotCert *x509.Certificate) (*Attestation, error) {
	return Verifier{}.Verify(f9Cert, slotCert)
}

// VerifyKey is Verify plus the check that the attested key is pub: the
// attestation of one key presented with another proves nothing.
func (v Verifier) VerifyKey(f9Cert, slotCert *x509.Certificate, pub crypto.PublicKey) (*Attestation, error) {
	a, err := v.Verify(f9Cert, slotCert)
	if err != nil {
		return nil, err
	}
	eq, ok := a.PublicKey.(interface{ Equal(crypto.PublicKey) bool })
	if !ok || !eq.Equal(pub) {
		return nil, ErrKeyMismatch
	}
	return a, nil
}

func parse(c *x509.Certificate) (*Attestation, error) {
	a := &Attestation{PublicKey: c.PublicKey}
	var seenFirmware, seenSerial, seenPolicy bool
	for _, e := range c.Extensions {
		switch {
		case e.Id.Equal(oidFirmware):
			if len(e.Value) != 3 {
				return nil, fmt.Errorf("%w: firmware extension has %d bytes, want 3", ErrMalformed, len(e.Value))
			}
			a.Firmware = fmt.Sprintf("%d.%d.%d", e.Value[0], e.Value[1], e.Value[2])
			seenFirmware = true
		case e.Id.Equal(oidSerial):
			var serial int64
			rest, err := asn1.Unmarshal(e.Value, &serial)
			if err != nil || len(rest) != 0 || serial < 0 || serial > 0xffffffff {
				return nil, fmt.Errorf("%w: serial extension is not an integer between 0 and 2^32-1", ErrMalformed)
			}
			a.Serial = uint32(serial)
			seenSerial = true
		case e.Id.Equal(oidPolicy):
			if len(e.Value) != 2 {
				return nil, fmt.Errorf("%w: policy extension has %d bytes, want 2", ErrMalformed, len(e.Value))
			}
			var ok bool
			if a.PINPolicy, ok = pinPolicies[e.Value[0]]; !ok {
				return nil, fmt.Errorf("%w: unknown PIN policy 0x%02x", ErrMalformed, e.Value[0])
			}
			if a.TouchPolicy, ok = touchPolicies[e.Value[1]]; !ok {
				return nil, fmt.Errorf("%w: unknown touch policy 0x%02x", ErrMalformed, e.Value[1])
			}
			seenPolicy = true
		case e.Id.Equal(oidFormFactor):
			if len(e.Value) != 1 {
				return nil, fmt.Errorf("%w: form factor extension has %d bytes, want 1", ErrMalformed, len(e.Value))
			}
			a.FormFactor = FormFactorName(e.Value[0])
		}
	}
	if !seenFirmware || !seenSerial || !seenPolicy {
		return nil, fmt.Errorf("%w: firmware, serial or policy extension missing: not a YubiKey PIV attestation", ErrMalformed)
	}
	const prefix = "YubiKey PIV Attestation "
	if s, ok := strings.CutPrefix(c.Subject.CommonName, prefix); ok {
		if n, err := strconv.ParseUint(s, 16, 8); err == nil {
			a.Slot = fmt.Sprintf("%02x", n)
		}
	}
	return a, nil
}

var pinPolicies = map[byte]string{1: "never", 2: "once", 3: "always", 4: "match-once", 5: "match-always"}

var touchPolicies = map[byte]string{1: "never", 2: "always", 3: "cached"}

// FormFactorName names a YubiKey form factor code as Yubico documents it.
func FormFactorName(code byte) string {
	names := map[byte]string{
		0x01: "USB-A keychain", 0x02: "USB-A nano", 0x03: "USB-C keychain", 0x04: "USB-C nano",
		0x05: "USB-C Lightning keychain", 0x06: "USB-A biometric keychain", 0x07: "USB-C biometric keychain",
	}
	base := code &^ 0x80
	name, ok := names[base]
	if !ok {
		if code == 0 {
			return ""
		}
		return fmt.Sprintf("unknown (0x%02x)", code)
	}
	if code&0x80 != 0 {
		name += " FIPS"
	}
	return name
}

// ParseCertificatePEM parses exactly one PEM certificate (a DER certificate is
// accepted too), with errors that say what was found instead.
func ParseCertificatePEM(data []byte) (*x509.Certificate, error) {
	trimmed := bytes.TrimSpace(data)
	if len(trimmed) == 0 {
		return nil, errors.New("empty input: expected a PEM certificate")
	}
	block, rest := pem.Decode(trimmed)
	if block == nil {
		c, err := x509.ParseCertificate(trimmed)
		if err != nil {
			return nil, fmt.Errorf("neither PEM nor a DER certificate: %w", err)
		}
		return c, nil
	}
	if block.Type != "CERTIFICATE" {
		return nil, fmt.Errorf("PEM block is %q, expected CERTIFICATE", block.Type)
	}
	if len(bytes.TrimSpace(rest)) != 0 {
		return nil, errors.New("more than one PEM block: give one certificate per file")
	}
	c, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		return nil, fmt.Errorf("parsing certificate: %w", err)
	}
	return c, nil
}

// decodePEM returns the DER bytes of the next CERTIFICATE block and the rest.
func decodePEM(data []byte) (der, rest []byte) {
	for {
		block, r := pem.Decode(data)
		if block == nil {
			return nil, nil
		}
		if block.Type == "CERTIFICATE" {
			return block.Bytes, r
		}
		data = r
	}
}

// ParseUnverified reads the facts of a slot attestation statement without
// checking any signature. Use it only to learn a slot's policies for a prompt,
// never to decide trust.
func ParseUnverified(slotCert *x509.Certificate) (*Attestation, error) {
	return parse(slotCert)
}
