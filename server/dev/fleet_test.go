package dev

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/kiwistack/endpoint/server/serve"
)

// TestRunFleet: dev loads the Fleet section (refusing an enroll secret
// others may read) and makes the escrow key (0600) in the state directory.
func TestRunFleet(t *testing.T) {
	dir := t.TempDir()
	secret := filepath.Join(t.TempDir(), "fleet-secret")
	if err := os.WriteFile(secret, []byte("s3cr3t\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	err := Run(context.Background(), Options{StateDir: dir, Tenant: "acme-corp", Listen: "127.0.0.1:0",
		Fleet: &serve.FleetConfig{URL: "https://fleet.acme.test", EnrollSecretFile: secret}})
	if err == nil || !strings.Contains(err.Error(), "chmod 600") {
		t.Fatalf("Run with a 0644 enroll secret: %v", err)
	}
	if st, err := os.Stat(filepath.Join(dir, EscrowKeyFile)); err != nil || st.Mode().Perm() != 0o600 {
		t.Errorf("escrow key %v %v, want 0600", st, err)
	}
	if err := os.Chmod(secret, 0o600); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- Run(ctx, Options{StateDir: dir, Tenant: "acme-corp", Listen: "127.0.0.1:0",
			Fleet: &serve.FleetConfig{URL: "https://fleet.acme.test", EnrollSecretFile: secret},
			Ready: func(Info) { cancel() }})
	}()
	if err := <-done; err != nil {
		t.Fatalf("Run with Fleet: %v", err)
	}
}
