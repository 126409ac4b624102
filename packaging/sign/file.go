package sign

import (
	"fmt"
	"os"
	"path/filepath"
	"time"
)

// SignFile writes path's detached signature to path.minisig, with a trusted
// comment holding the signing time and the file's name, as minisign does.
func SignFile(k *SecretKey, path string, now time.Time) error {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("signing %s: %w", path, err)
	}
	defer f.Close()
	s, err := Sign(k, f, fmt.Sprintf("timestamp:%d\tfile:%s\tprehashed", now.Unix(), filepath.Base(path)))
	if err != nil {
		return fmt.Errorf("signing %s: %w", path, err)
	}
	b, _ := s.MarshalText()
	if err := os.WriteFile(path+Suffix, b, 0o644); err != nil {
		return fmt.Errorf("signing %s: %w", path, err)
	}
	return nil
}

// VerifyFile checks path against its detached signature in sigPath with
// key p. The file is read once, from the handle that is hashed.
func VerifyFile(p PublicKey, path, sigPath string) (*Signature, error) {
	b, err := os.ReadFile(sigPath)
	if err != nil {
		return nil, fmt.Errorf("reading the signature: %w", err)
	}
	s, err := ParseSignature(b)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", sigPath, err)
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	if err := Verify(p, s, f); err != nil {
		return nil, fmt.Errorf("%s: %w", filepath.Base(path), err)
	}
	return s, nil
}
