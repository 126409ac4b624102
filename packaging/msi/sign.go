package msi

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"os"
	"os/exec"
	"path/filepath"
	"time"
)

// Signer signs files with Authenticode through osslsigncode. The zero
// value is not usable: set Cert and Key, or use [TestSigner].
type Signer struct {
	// Cert is a PEM file with the code-signing certificate first, then its
	// intermediates.
	Cert string
	// Key is the certificate's private key, PEM.
	Key string
	// KeyPassword decrypts Key when it is encrypted; it is handed to
	// osslsigncode in a private temporary file, never on a command line.
	KeyPassword string
	// TimestampURL is an RFC 3161 time-stamping service; empty signs without
	// a timestamp (the signature then expires with the certificate).
	TimestampURL string
	// Description and URL are shown in Windows' consent dialog.
	Description, URL string
}

// Sign writes in, signed with SHA-256, to out (which must differ from in).
func (s Signer) Sign(in, out string) error {
	tool, err := lookTool("osslsigncode", "osslsigncode")
	if err != nil {
		return err
	}
	args := []string{"sign", "-h", "sha256", "-certs", s.Cert, "-key", s.Key}
	if s.KeyPassword != "" {
		f, err := os.CreateTemp("", "kiwistack-signpass-")
		if err != nil {
			return fmt.Errorf("signing %s: %w", in, err)
		}
		defer os.Remove(f.Name())
		_, werr := f.WriteString(s.KeyPassword)
		if cerr := f.Close(); werr == nil {
			werr = cerr
		}
		if werr != nil {
			return fmt.Errorf("signing %s: %w", in, werr)
		}
		args = append(args, "-readpass", f.Name())
	}
	if s.Description != "" {
		args = append(args, "-n", s.Description)
	}
	if s.URL != "" {
		args = append(args, "-i", s.URL)
	}
	if s.TimestampURL != "" {
		args = append(args, "-ts", s.TimestampURL)
	}
	args = append(args, "-in", in, "-out", out)
	if b, err := exec.Command(tool, args...).CombinedOutput(); err != nil {
		os.Remove(out)
		return fmt.Errorf("signing %s: osslsigncode: %w\n%s", in, err, b)
	}
	return nil
}

// Verify checks path's Authenticode signature with osslsigncode against the
// root certificates in caFile (PEM).
func Verify(path, caFile string) error {
	tool, err := lookTool("osslsigncode", "osslsigncode")
	if err != nil {
		return err
	}
	if b, err := exec.Command(tool, "verify", "-CAfile", caFile, "-in", path).CombinedOutput(); err != nil {
		return fmt.Errorf("verifying the signature of %s: %w\n%s", path, err, b)
	}
	return nil
}

// TestSigner creates a throwaway code-signing CA and leaf certificate (RSA
// 3072, valid from an hour before now for 30 days) in dir and returns a
// Signer for the leaf and the CA's PEM file for [Verify]. It is for CI and
// development builds: Windows does not trust it.
func TestSigner(dir string, now time.Time) (s Signer, caFile string, err error) {
	caKey, err := rsa.GenerateKey(rand.Reader, 3072)
	if err != nil {
		return Signer{}, "", fmt.Errorf("creating the test signing CA: %w", err)
	}
	leafKey, err := rsa.GenerateKey(rand.Reader, 3072)
	if err != nil {
		return Signer{}, "", fmt.Errorf("creating the test signing key: %w", err)
	}
	serial := func() (*big.Int, error) { return rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127)) }
	caSerial, err := serial()
	if err != nil {
		return Signer{}, "", err
	}
	leafSerial, err := serial()
	if err != nil {
		return Signer{}, "", err
	}
	notBefore, notAfter := now.Add(-time.Hour), now.Add(30*24*time.Hour)
	caTmpl := &x509.Certificate{
		SerialNumber:          caSerial,
		Subject:               pkix.Name{Organization: []string{"KiwiStack"}, CommonName: "KiwiStack TEST code signing CA"},
		NotBefore:             notBefore,
		NotAfter:              notAfter,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
		MaxPathLenZero:        true,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		return Signer{}, "", fmt.Errorf("creating the test signing CA: %w", err)
	}
	ca, err := x509.ParseCertificate(caDER)
	if err != nil {
		return Signer{}, "", err
	}
	leafTmpl := &x509.Certificate{
		SerialNumber:          leafSerial,
		Subject:               pkix.Name{Organization: []string{"KiwiStack"}, CommonName: "KiwiStack TEST code signing"},
		NotBefore:             notBefore,
		NotAfter:              notAfter,
		KeyUsage:              x509.KeyUsageDigitalSignature,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageCodeSigning},
		BasicConstraintsValid: true,
	}
	leafDER, err := x509.CreateCertificate(rand.Reader, leafTmpl, ca, &leafKey.PublicKey, caKey)
	if err != nil {
		return Signer{}, "", fmt.Errorf("creating the test signing certificate: %w", err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(leafKey)
	if err != nil {
		return Signer{}, "", err
	}
	s = Signer{Cert: filepath.Join(dir, "codesign.pem"), Key: filepath.Join(dir, "codesign.key"),
		Description: ProductName, URL: "https://github.com/kiwistack/endpoint"}
	caFile = filepath.Join(dir, "codesign-ca.pem")
	for _, f := range []struct {
		path string
		mode os.FileMode
		typ  string
		ders [][]byte
	}{
		{s.Cert, 0o644, "CERTIFICATE", [][]byte{leafDER, caDER}},
		{caFile, 0o644, "CERTIFICATE", [][]byte{caDER}},
		{s.Key, 0o600, "PRIVATE KEY", [][]byte{keyDER}},
	} {
		var b []byte
		for _, der := range f.ders {
			b = append(b, pem.EncodeToMemory(&pem.Block{Type: f.typ, Bytes: der})...)
		}
		if err := os.WriteFile(f.path, b, f.mode); err != nil {
			return Signer{}, "", fmt.Errorf("writing the test signing certificate: %w", err)
		}
	}
	return s, caFile, nil
}
