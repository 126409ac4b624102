package appcert

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	pkcs12 "software.sslmate.com/src/go-pkcs12"
)

// goKey makes an EC P-256 key in memory and the DER of its CSR for cn,
// for the stores that import a PKCS #12 file (macOS, Windows).
func goKey(cn string) ([]byte, *ecdsa.PrivateKey, error) {
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, fmt.Errorf("generating the key: %w", err)
	}
	der, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{Subject: pkix.Name{CommonName: cn}}, k)
	if err != nil {
		return nil, nil, fmt.Errorf("making the csr: %w", err)
	}
	return der, k, nil
}

// p12File writes key, the leaf and the intermediates as a PKCS #12 file
// under a random one-time password, in a new directory only u can read
// (the file is written and handed to u before the directory is), and
// returns the file, the password and a function that removes both.
func p12File(u User, key Key, chain []*x509.Certificate) (string, string, func(), error) {
	k, ok := key.(*ecdsa.PrivateKey)
	if !ok || len(chain) == 0 {
		return "", "", nil, errors.New("writing the PKCS #12 file: no key or certificate")
	}
	pw := make([]byte, 16)
	if _, err := rand.Read(pw); err != nil {
		return "", "", nil, err
	}
	password := hex.EncodeToString(pw)
	data, err := pkcs12.Modern.Encode(k, chain[0], chain[1:], password)
	if err != nil {
		return "", "", nil, fmt.Errorf("encoding the PKCS #12 file: %w", err)
	}
	dir, err := os.MkdirTemp("", "kiwistack-appcert-")
	if err != nil {
		return "", "", nil, fmt.Errorf("creating a temporary directory: %w", err)
	}
	cleanup := func() { _ = os.RemoveAll(dir) }
	p := filepath.Join(dir, "app.p12")
	if err := os.WriteFile(p, data, 0o600); err != nil {
		cleanup()
		return "", "", nil, fmt.Errorf("writing the PKCS #12 file: %w", err)
	}
	if err := handOver(u, p, dir); err != nil {
		cleanup()
		return "", "", nil, fmt.Errorf("handing the PKCS #12 file to %s: %w", u.Name, err)
	}
	return p, password, cleanup, nil
}
