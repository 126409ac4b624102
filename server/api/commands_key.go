package api

import (
	"crypto/ed25519"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"

	"github.com/kiwistack/endpoint/internal/atomicfile"
)

// LoadOrCreateCommandKey reads the API's command-signing key (Ed25519,
// PKCS #8 PEM) from path, or generates one there (0600) from random
// (crypto/rand when nil) the first time. Agents pin its public key at
// enrollment: replacing the file orphans every enrolled agent's commands
// until it re-enrolls.
func LoadOrCreateCommandKey(path string, random io.Reader) (ed25519.PrivateKey, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		_, k, err := ed25519.GenerateKey(random)
		if err != nil {
			return nil, fmt.Errorf("generating the command key: %w", err)
		}
		der, err := x509.MarshalPKCS8PrivateKey(k)
		if err != nil {
			return nil, fmt.Errorf("encoding the command key: %w", err)
		}
		if err := atomicfile.Create(path, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), 0o600); err != nil {
			return nil, fmt.Errorf("writing the command key: %w", err)
		}
		return k, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading the command key: %w", err)
	}
	blk, _ := pem.Decode(b)
	if blk == nil || blk.Type != "PRIVATE KEY" {
		return nil, fmt.Errorf("command key %s: want a PEM PRIVATE KEY block", path)
	}
	k, err := x509.ParsePKCS8PrivateKey(blk.Bytes)
	if err != nil {
		return nil, fmt.Errorf("command key %s: %w", path, err)
	}
	ek, ok := k.(ed25519.PrivateKey)
	if !ok {
		return nil, fmt.Errorf("command key %s: want an Ed25519 key, not %T", path, k)
	}
	return ek, nil
}
