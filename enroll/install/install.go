// Package install owns what an enrollment leaves on the laptop: it checks
// the tenant API's answer to an enrollment or an OEM claim against what the
// laptop knows (pinned root, device key, device id), writes the device key,
// certificate, root and step defaults under a paths.Layout, and writes the
// enrollment record last, so that its presence means the rest is complete.
//
// Both the enroller (package enroll) and the agent's OEM claim (agent/claim)
// use it; it is a leaf that needs no YubiKey, no terminal and no network,
// and it does not decide whether a laptop may enroll.
package install

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/sha256"
	"crypto/subtle"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/kiwistack/endpoint/enroll/protocol"
	"github.com/kiwistack/endpoint/internal/atomicfile"
	"github.com/kiwistack/endpoint/platform/paths"
)

// Record is the agent's record of the enrollment, written last
// (paths.Layout.Enrollment): its presence means the certificate, key and
// root beside it are complete.
type Record struct {
	// Config is the tenant's configuration for the agent, as the API sent it.
	protocol.AgentConfig
	// Certificate, Key and Root are the installed files.
	Certificate string `json:"certificate_file"`
	Key         string `json:"key_file"`
	Root        string `json:"root_file"`
}

// Read reads the enrollment record of layout; the error wraps
// fs.ErrNotExist when the laptop is not enrolled.
func Read(layout paths.Layout) (*Record, error) {
	b, err := os.ReadFile(layout.Enrollment())
	if err != nil {
		return nil, fmt.Errorf("reading the enrollment record: %w", err)
	}
	var r Record
	if err := protocol.DecodeJSON(bytes.NewReader(b), 1<<20, &r); err != nil {
		return nil, fmt.Errorf("%s is damaged (%w); enroll again with --reenroll", layout.Enrollment(), err)
	}
	return &r, nil
}

// Check checks everything the laptop can about the API's answer to
// an enrollment or a claim: it is for deviceID in tenant, the root is the
// pinned one (rootFingerprint, lowercase hex), the certificate chains to
// it, is for key and names deviceID, and lives at most 24 h. It returns
// what Write installs.
func Check(resp *protocol.EnrollResponse, tenant, rootFingerprint, deviceID string, key *ecdsa.PrivateKey, now time.Time) (leaf *x509.Certificate, chain []*x509.Certificate, root *x509.Certificate, err error) {
	bad := func(format string, a ...any) error {
		return fmt.Errorf("the API's answer is not acceptable: "+format+"; nothing was installed, report this to the tenant's operator", a...)
	}
	if resp.DeviceID != deviceID || resp.Config.DeviceID != deviceID || resp.Config.Tenant != tenant {
		return nil, nil, nil, bad("device id %q / %q or tenant %q, want %s in %s", resp.DeviceID, resp.Config.DeviceID, resp.Config.Tenant, deviceID, tenant)
	}
	roots, err := parsePEMCerts(resp.Root)
	if err != nil || len(roots) != 1 {
		return nil, nil, nil, bad("the root is not one PEM certificate")
	}
	root = roots[0]
	sum := sha256.Sum256(root.Raw)
	if subtle.ConstantTimeCompare([]byte(hex.EncodeToString(sum[:])), []byte(rootFingerprint)) != 1 {
		return nil, nil, nil, bad("the root's fingerprint is %x, not the pinned %s", sum, rootFingerprint)
	}
	leaves, err := parsePEMCerts(resp.Certificate)
	if err != nil || len(leaves) != 1 {
		return nil, nil, nil, bad("the certificate is not one PEM certificate")
	}
	leaf = leaves[0]
	inter := x509.NewCertPool()
	for _, c := range resp.Chain {
		cs, err := parsePEMCerts(c)
		if err != nil {
			return nil, nil, nil, bad("the chain: %v", err)
		}
		for _, ic := range cs {
			inter.AddCert(ic)
			chain = append(chain, ic)
		}
	}
	pool := x509.NewCertPool()
	pool.AddCert(root)
	if _, err := leaf.Verify(x509.VerifyOptions{Roots: pool, Intermediates: inter, CurrentTime: now,
		KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}); err != nil {
		return nil, nil, nil, bad("the certificate does not chain to the tenant root: %v", err)
	}
	if !key.PublicKey.Equal(leaf.PublicKey) {
		return nil, nil, nil, bad("the certificate is for another key")
	}
	if leaf.NotAfter.Sub(leaf.NotBefore) > 24*time.Hour+5*time.Minute {
		return nil, nil, nil, bad("the certificate is valid for %s, more than 24 h", leaf.NotAfter.Sub(leaf.NotBefore))
	}
	if leaf.Subject.CommonName != deviceID {
		return nil, nil, nil, bad("the certificate names %q, not %s", leaf.Subject.CommonName, deviceID)
	}
	return leaf, chain, root, nil
}

// Write writes the key, the certificate chain, the root, the step CLI's
// defaults and, last, the enrollment record (what Check returned
// and the API's configuration). Each file is replaced atomically with its
// mode (the key 0600 in a 0700 directory); the directories are created as
// needed.
func Write(layout paths.Layout, key *ecdsa.PrivateKey, leaf *x509.Certificate, chain []*x509.Certificate, root *x509.Certificate, cfg protocol.AgentConfig) error {
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return fmt.Errorf("encoding the device key: %w", err)
	}
	certPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: leaf.Raw})
	for _, c := range chain {
		certPEM = append(certPEM, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Raw})...)
	}
	defaults, err := json.MarshalIndent(map[string]string{
		"ca-url": cfg.CAURL, "fingerprint": cfg.RootFingerprint, "root": layout.RootCert(),
	}, "", "  ")
	if err != nil {
		return err
	}
	record, err := json.MarshalIndent(Record{AgentConfig: cfg, Certificate: layout.DeviceCert(),
		Key: layout.DeviceKey(), Root: layout.RootCert()}, "", "  ")
	if err != nil {
		return err
	}
	files := []struct {
		path    string
		data    []byte
		mode    fs.FileMode
		dirMode fs.FileMode
	}{
		{layout.DeviceKey(), pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}), 0o600, 0o700},
		{layout.DeviceCert(), certPEM, 0o644, 0o755},
		{layout.RootCert(), pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: root.Raw}), 0o644, 0o755},
		{layout.StepDefaults(), append(defaults, '\n'), 0o644, 0o755},
		{layout.Enrollment(), append(record, '\n'), 0o644, 0o755},
	}
	for _, f := range files {
		dir := filepath.Dir(f.path)
		if err := os.MkdirAll(dir, f.dirMode); err != nil {
			return fmt.Errorf("installing %s: %w", f.path, err)
		}
		if f.mode&0o077 == 0 {
			// A directory made by someone else must not expose the key.
			if err := os.Chmod(dir, f.dirMode); err != nil {
				return fmt.Errorf("installing %s: %w", f.path, err)
			}
		}
		if err := atomicfile.WriteFile(f.path, f.data, f.mode); err != nil {
			return fmt.Errorf("installing %s: %w", f.path, err)
		}
	}
	return nil
}

// parsePEMCerts parses every CERTIFICATE block of s; anything else is an
// error.
func parsePEMCerts(s string) ([]*x509.Certificate, error) {
	rest := []byte(s)
	var out []*x509.Certificate
	for {
		var b *pem.Block
		b, rest = pem.Decode(rest)
		if b == nil {
			break
		}
		if b.Type != "CERTIFICATE" {
			return nil, fmt.Errorf("a %q PEM block where a certificate belongs", b.Type)
		}
		c, err := x509.ParseCertificate(b.Bytes)
		if err != nil {
			return nil, err
		}
		out = append(out, c)
	}
	if len(strings.TrimSpace(string(rest))) != 0 {
		return nil, errors.New("data that is not PEM")
	}
	if len(out) == 0 {
		return nil, errors.New("no certificate")
	}
	return out, nil
}
