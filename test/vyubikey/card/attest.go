package card

import (
	"bytes"
	"crypto"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"fmt"
	"io"
	"math/big"
	"time"
)

// Yubico's attestation extensions.
var (
	oidFirmware   = asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 41482, 3, 3}
	oidSerial     = asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 41482, 3, 7}
	oidPolicy     = asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 41482, 3, 8}
	oidFormFactor = asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 41482, 3, 9}
	oidCommonName = asn1.ObjectIdentifier{2, 5, 4, 3}
	oidBasicCons  = asn1.ObjectIdentifier{2, 5, 29, 19}
)

// Validity of Yubico's PIV root, which real keys copy into their f9 and
// attestation certificates.
var (
	yubicoNotBefore = time.Date(2016, 3, 14, 0, 0, 0, 0, time.UTC)
	yubicoNotAfter  = time.Date(2052, 4, 17, 0, 0, 0, 0, time.UTC)
)

// utf8Name encodes a name with one common name as a UTF8String, the way
// Yubico's certificates spell it (Go would pick PrintableString).
func utf8Name(cn string) []byte {
	name := pkix.RDNSequence{{{
		Type:  oidCommonName,
		Value: asn1.RawValue{Tag: asn1.TagUTF8String, Bytes: []byte(cn)},
	}}}
	b, err := asn1.Marshal(name)
	if err != nil {
		panic(err) // a constant structure: cannot fail
	}
	return b
}

// randomSerial returns a positive serial of n bytes whose first byte is
// first (0 keeps it random with the top bit set).
func randomSerial(r io.Reader, n int, first byte) (*big.Int, error) {
	b := make([]byte, n)
	if _, err := io.ReadFull(r, b); err != nil {
		return nil, fmt.Errorf("reading serial: %w", err)
	}
	if first != 0 {
		b[0] = first
	} else {
		b[0] |= 0x80
	}
	return new(big.Int).SetBytes(b), nil
}

// NewAttestationRoot creates a self-signed RSA-2048 PIV attestation root
// shaped like Yubico's ("Yubico PIV Root CA Serial 263751": same validity,
// CA with path length 1, certificate and CRL signing), but named as a test
// root so it can never be taken for Yubico's.
func NewAttestationRoot(r io.Reader) (*x509.Certificate, crypto.Signer, error) {
	key, err := rsa.GenerateKey(r, 2048)
	if err != nil {
		return nil, nil, fmt.Errorf("generating attestation root key: %w", err)
	}
	serial, err := randomSerial(r, 3, 0x04)
	if err != nil {
		return nil, nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		RawSubject:            utf8Name(fmt.Sprintf("vyubikey Test PIV Root CA Serial %d", serial)),
		NotBefore:             yubicoNotBefore,
		NotAfter:              yubicoNotAfter,
		BasicConstraintsValid: true,
		IsCA:                  true,
		MaxPathLen:            1,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
	}
	der, err := x509.CreateCertificate(r, tmpl, tmpl, key.Public(), key)
	if err != nil {
		return nil, nil, fmt.Errorf("creating attestation root: %w", err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, nil, fmt.Errorf("parsing attestation root: %w", err)
	}
	return cert, key, nil
}

// provisionAttestation makes sure slot f9 holds a key and object 5FFF01 a
// certificate for it issued by the attestation root, as Yubico provisions
// every key at the factory.
func (c *Card) provisionAttestation(rootKey crypto.Signer, f9 crypto.Signer) error {
	priv, _ := c.privateKey(0xf9)
	if priv == nil {
		if f9 == nil {
			k, err := rsa.GenerateKey(c.rand, 2048)
			if err != nil {
				return fmt.Errorf("generating attestation key: %w", err)
			}
			f9 = k
		}
		if err := c.storeKey(0xf9, algRSA2048, pinNever, touchNever, originImported, f9); err != nil {
			return err
		}
		priv = f9
	}
	signer, ok := priv.(crypto.Signer)
	if !ok {
		return fmt.Errorf("attestation key in slot f9 cannot sign")
	}
	if cert := c.attestationCert(); cert != nil && cert.CheckSignatureFrom(c.root) == nil &&
		cert.PublicKey.(interface{ Equal(crypto.PublicKey) bool }).Equal(signer.Public()) {
		return nil
	}
	serial, err := randomSerial(c.rand, 8, 0)
	if err != nil {
		return err
	}
	ext, err := basicConstraintsCA0()
	if err != nil {
		return err
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		RawSubject:   utf8Name("Yubico PIV Attestation"),
		NotBefore:    c.root.NotBefore,
		NotAfter:     c.root.NotAfter,
		ExtraExtensions: []pkix.Extension{
			{Id: oidFirmware, Value: bytes.Clone(c.ver[:])},
			ext,
		},
	}
	parent := *c.root
	parent.SubjectKeyId = nil // real f9 certificates carry no authority key id
	der, err := x509.CreateCertificate(c.rand, tmpl, &parent, signer.Public(), rootKey)
	if err != nil {
		return fmt.Errorf("issuing attestation certificate: %w", err)
	}
	c.st.Objects["5fff01"] = enc(0x70, der)
	c.dirty = true
	c.log.Info("issued f9 attestation certificate", "serial", c.st.Serial, "root", c.root.Subject.CommonName)
	return nil
}

// basicConstraintsCA0 is a critical CA:TRUE, pathlen:0 extension.
func basicConstraintsCA0() (pkix.Extension, error) {
	v, err := asn1.Marshal(struct {
		IsCA       bool
		MaxPathLen int
	}{true, 0})
	if err != nil {
		return pkix.Extension{}, fmt.Errorf("encoding basic constraints: %w", err)
	}
	return pkix.Extension{Id: oidBasicCons, Critical: true, Value: v}, nil
}

// attestationCert parses the certificate in object 5FFF01.
func (c *Card) attestationCert() *x509.Certificate {
	obj, ok := c.st.Objects["5fff01"]
	if !ok {
		return nil
	}
	tag, der, _, err := readTLV(obj)
	if err != nil || tag != 0x70 {
		return nil
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil
	}
	return cert
}

// cmdAttest handles the YubiKey ATTEST (INS F9, P1 slot): a certificate
// for the slot's public key, signed by the f9 key, with the firmware,
// serial, policy and form factor extensions. Only keys generated on the
// card can be attested.
func (c *Card) cmdAttest(cmd command) ([]byte, uint16) {
	if !isKeySlot(cmd.p1) || cmd.p2 != 0x00 {
		return nil, swIncorrectP1P2
	}
	priv, sk := c.privateKey(cmd.p1)
	if priv == nil || sk.Origin != originGenerated {
		return nil, swIncorrectData
	}
	f9, _ := c.privateKey(0xf9)
	signer, ok := f9.(crypto.Signer)
	issuer := c.attestationCert()
	if !ok || issuer == nil {
		return nil, swIncorrectData
	}
	serial, err := randomSerial(c.rand, 16, 0x01)
	if err != nil {
		return nil, swNoPreciseDiagnosis
	}
	cardSerial, err := asn1.Marshal(int64(c.st.Serial))
	if err != nil {
		return nil, swNoPreciseDiagnosis
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		RawSubject:   utf8Name(fmt.Sprintf("YubiKey PIV Attestation %02x", cmd.p1)),
		NotBefore:    issuer.NotBefore,
		NotAfter:     issuer.NotAfter,
		ExtraExtensions: []pkix.Extension{
			{Id: oidFirmware, Value: bytes.Clone(c.ver[:])},
			{Id: oidSerial, Value: cardSerial},
			{Id: oidPolicy, Value: []byte{sk.PIN, sk.Touch}},
			{Id: oidFormFactor, Value: []byte{c.st.FormFactor}},
		},
	}
	der, err := x509.CreateCertificate(c.rand, tmpl, issuer, publicKey(priv), signer)
	if err != nil {
		c.log.Error("creating attestation", "slot", slotName(cmd.p1), "err", err)
		return nil, swNoPreciseDiagnosis
	}
	return der, swOK
}
