package renew

import (
	"crypto"
	"crypto/tls"
	"encoding/pem"
	"errors"
	"fmt"
	"os"

	"github.com/kiwistack/endpoint/internal/atomicfile"
)

// WriteChain stores cert's chain (leaf first, then intermediates) as PEM at
// path, atomically: a reader, or the agent after a kill -9 at any point,
// finds either the whole old chain or the whole new one. The private key is
// not written; renewal keeps the key. Call it only with a verified
// certificate (Client.Renew returns nothing else).
func WriteChain(path string, cert tls.Certificate) error {
	if len(cert.Certificate) == 0 {
		return errors.New("writing certificate: empty chain")
	}
	var buf []byte
	for _, der := range cert.Certificate {
		buf = append(buf, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})...)
	}
	if err := atomicfile.WriteFile(path, buf, 0o644); err != nil {
		return fmt.Errorf("writing certificate: %w", err)
	}
	return nil
}

// LoadCertificate reads the chain at path and pairs it with key, which must
// be the leaf's key. Only path itself is read, never a temporary file left
// beside it by an interrupted write.
func LoadCertificate(path string, key crypto.Signer) (tls.Certificate, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("loading certificate: %w", err)
	}
	chain, err := parsePEMCertificates(data)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("loading certificate %s: %w", path, err)
	}
	if len(chain) == 0 {
		return tls.Certificate{}, fmt.Errorf("loading certificate %s: no certificate in the file", path)
	}
	if !publicKeyEqual(key.Public(), chain[0].PublicKey) {
		return tls.Certificate{}, fmt.Errorf("loading certificate %s: it is not for the device key", path)
	}
	out := tls.Certificate{PrivateKey: key, Leaf: chain[0]}
	for _, c := range chain {
		out.Certificate = append(out.Certificate, c.Raw)
	}
	return out, nil
}
