package dev

import (
	"crypto/x509"
	"os"
	"path/filepath"
	"testing"
	"time"
)

func TestLoadOrCreateOperator(t *testing.T) {
	dir := t.TempDir()
	op, err := LoadOrCreateOperator(dir, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	again, err := LoadOrCreateOperator(dir, time.Now())
	if err != nil || !again.Root.Equal(op.Root) || !again.Cert.Equal(op.Cert) || !again.Key.Equal(op.Key) {
		t.Fatalf("second load made a new operator: %v", err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(op.Root)
	if _, err := op.Cert.Verify(x509.VerifyOptions{Roots: pool, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}); err != nil {
		t.Errorf("the operator certificate does not chain to the operator root: %v", err)
	}
	fi, err := os.Stat(filepath.Join(OperatorPath(dir), OperatorKeyFile))
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("operator key mode %v, %v", fi.Mode(), err)
	}
}
