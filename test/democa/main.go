// Command democa makes a throwaway tenant PKI for the demo and tests: an MSP
// root and a tenant intermediate (P-256), written as root.pem,
// intermediate.pem and intermediate.key (0600) into a directory. It stands in
// for the PKI that kiwistack-api will create; it is test-only and never
// shipped. Existing files are kept, so a second run changes nothing.
package main

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"flag"
	"fmt"
	"io/fs"
	"math/big"
	"os"
	"path/filepath"
	"time"

	"github.com/kiwistack/endpoint/internal/atomicfile"
)

func main() {
	dir := flag.String("dir", "", "directory to write root.pem, intermediate.pem and intermediate.key into")
	tenant := flag.String("tenant", "acme-corp", "tenant slug named in the intermediate")
	flag.Parse()
	if *dir == "" {
		fmt.Fprintln(os.Stderr, "democa: --dir is required")
		os.Exit(2)
	}
	if err := run(*dir, *tenant); err != nil {
		fmt.Fprintf(os.Stderr, "democa: %v\n", err)
		os.Exit(1)
	}
}

func run(dir, tenant string) error {
	if _, err := os.Stat(filepath.Join(dir, "intermediate.key")); err == nil {
		return nil
	} else if !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	now := time.Now()
	rootKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return err
	}
	root := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "KiwiStack Demo MSP Root CA"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.AddDate(10, 0, 0),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
	}
	rootDER, err := x509.CreateCertificate(rand.Reader, root, root, rootKey.Public(), rootKey)
	if err != nil {
		return err
	}
	root, _ = x509.ParseCertificate(rootDER)
	interKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return err
	}
	inter := &x509.Certificate{
		SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: tenant + " Intermediate CA", Organization: []string{tenant}},
		NotBefore: now.Add(-time.Hour), NotAfter: now.AddDate(5, 0, 0),
		IsCA: true, BasicConstraintsValid: true, MaxPathLen: 0, MaxPathLenZero: true,
		KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
	}
	interDER, err := x509.CreateCertificate(rand.Reader, inter, root, interKey.Public(), rootKey)
	if err != nil {
		return err
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(interKey)
	if err != nil {
		return err
	}
	for _, f := range []struct {
		name string
		typ  string
		der  []byte
		mode fs.FileMode
	}{
		{"root.pem", "CERTIFICATE", rootDER, 0o644},
		{"intermediate.pem", "CERTIFICATE", interDER, 0o644},
		{"intermediate.key", "PRIVATE KEY", keyDER, 0o600},
	} {
		b := pem.EncodeToMemory(&pem.Block{Type: f.typ, Bytes: f.der})
		if err := atomicfile.WriteFile(filepath.Join(dir, f.name), b, f.mode); err != nil {
			return err
		}
	}
	return nil
}
