package enroll

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/kiwistack/endpoint/enroll/protocol"
	"github.com/kiwistack/endpoint/internal/atomicfile"
	"github.com/kiwistack/endpoint/platform/paths"
)

// EnrollmentRecord is the agent's record of the enrollment, written last
// (paths.Layout.Enrollment): its presence means the certificate, key and
// root beside it are complete.
type EnrollmentRecord struct {
	// Config is the tenant's configuration for the agent, as the API sent it.
	protocol.AgentConfig
	// Certificate, Key and Root are the installed files.
	Certificate string `json:"certificate_file"`
	Key         string `json:"key_file"`
	Root        string `json:"root_file"`
}

// ReadEnrollment reads the enrollment record of layout; the error wraps
// fs.ErrNotExist when the laptop is not enrolled.
func ReadEnrollment(layout paths.Layout) (*EnrollmentRecord, error) {
	b, err := os.ReadFile(layout.Enrollment())
	if err != nil {
		return nil, fmt.Errorf("reading the enrollment record: %w", err)
	}
	var r EnrollmentRecord
	if err := protocol.DecodeJSON(bytes.NewReader(b), 1<<20, &r); err != nil {
		return nil, fmt.Errorf("%s is damaged (%w); enroll again with --reenroll", layout.Enrollment(), err)
	}
	return &r, nil
}

// checkNotEnrolled refuses to enroll over an existing enrollment unless
// reenroll is set.
func checkNotEnrolled(layout paths.Layout, reenroll bool) error {
	if reenroll {
		return nil
	}
	// The record is written last: files without it are the leftovers of an
	// interrupted installation, which the next enrollment replaces.
	p := layout.Enrollment()
	_, err := os.Lstat(p)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("checking for an earlier enrollment: %w", err)
	}
	id := ""
	if r, err := ReadEnrollment(layout); err == nil {
		id = " as " + r.DeviceID + " in " + r.Tenant
	}
	return fmt.Errorf("this laptop is already enrolled%s (%s exists); to enroll it again, ask an administrator to allow its re-enrollment and run again with --reenroll", id, p)
}

// install writes the key, the certificate chain, the root, the step CLI's
// defaults and, last, the enrollment record. Each file is replaced
// atomically with its mode (the key 0600 in a 0700 directory); the
// directories are created as needed.
func install(layout paths.Layout, key *ecdsa.PrivateKey, leaf *x509.Certificate, chain []*x509.Certificate, root *x509.Certificate, cfg protocol.AgentConfig) error {
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
	record, err := json.MarshalIndent(EnrollmentRecord{AgentConfig: cfg, Certificate: layout.DeviceCert(),
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
