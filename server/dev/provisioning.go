package dev

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"

	"github.com/kiwistack/endpoint/attest"
	"github.com/kiwistack/endpoint/internal/atomicfile"
)

// ProvisioningTokenFile is the MSP's provisioning token in the state
// directory (0600): 32 random bytes, base64url, made on the first run.
const ProvisioningTokenFile = "provisioning.token"

// ProvisioningTokenPath returns the token's path in the state directory dir.
func ProvisioningTokenPath(dir string) string { return filepath.Join(dir, ProvisioningTokenFile) }

// provisioningToken returns the SHA-256 of the token in dir, creating the
// token when it does not exist. The token itself never leaves the file.
func provisioningToken(dir string) ([]byte, error) {
	path := ProvisioningTokenPath(dir)
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		raw := make([]byte, 32)
		_, _ = rand.Read(raw) // crypto/rand.Read never fails
		b = []byte(base64.RawURLEncoding.EncodeToString(raw) + "\n")
		if err := atomicfile.Create(path, b, 0o600); err != nil {
			return nil, fmt.Errorf("writing the provisioning token: %w", err)
		}
	} else if err != nil {
		return nil, fmt.Errorf("reading the provisioning token: %w", err)
	}
	tok := strings.TrimSpace(string(b))
	if tok == "" {
		return nil, fmt.Errorf("%s is empty: delete it to have a new token made", path)
	}
	sum := sha256.Sum256([]byte(tok))
	return sum[:], nil
}

// attestationVerifier trusts Yubico's roots plus the PEM roots in file
// (none when file is empty), with a loud warning: keys under a test root are
// not genuine YubiKeys.
func attestationVerifier(file string, log *slog.Logger) (attest.Verifier, error) {
	if file == "" {
		return attest.Verifier{}, nil
	}
	data, err := os.ReadFile(file)
	if err != nil {
		return attest.Verifier{}, fmt.Errorf("reading attestation roots: %w", err)
	}
	roots := attest.YubicoRoots()
	var n int
	for rest := data; ; {
		var der []byte
		der, rest = nextCertificate(rest)
		if der == nil {
			break
		}
		c, err := x509.ParseCertificate(der)
		if err != nil {
			return attest.Verifier{}, fmt.Errorf("parsing attestation root in %s: %w", file, err)
		}
		roots.AddCert(c)
		n++
		log.Warn("TRUSTING AN EXTRA YUBIKEY ATTESTATION ROOT: keys attested under it are NOT genuine YubiKeys; use this for tests and demos only",
			"root", c.Subject.CommonName, "file", file)
	}
	if n == 0 {
		return attest.Verifier{}, fmt.Errorf("%s holds no PEM certificate", file)
	}
	return attest.Verifier{Roots: roots, Intermediates: attest.YubicoIntermediates()}, nil
}

// nextCertificate returns the DER of the next CERTIFICATE block and the rest.
func nextCertificate(data []byte) (der, rest []byte) {
	for {
		b, r := pem.Decode(data)
		if b == nil {
			return nil, nil
		}
		if b.Type == "CERTIFICATE" {
			return b.Bytes, r
		}
		data = r
	}
}
