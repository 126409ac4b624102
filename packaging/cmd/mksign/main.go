// Command mksign holds the release key flow of `make packages`: it finds
// the signing key, exports its public key for the enroller's -ldflags, and
// signs every artefact in dist/. It holds flags and wiring only
// (packaging/sign does the work).
//
//	mksign -key "$KIWISTACK_RELEASE_KEY" -dev-dir bin/release-dev -pub bin/release.pub
//	mksign -key "$KIWISTACK_RELEASE_KEY" -dev-dir bin/release-dev -sign dist
//
// The key is the minisign secret key file -key names; encrypted keys take
// their password from KIWISTACK_RELEASE_KEY_PASSWORD. Without -key, a
// development key is generated once into -dev-dir (0600) and used, with a
// warning: packages signed by it are for tests only.
package main

import (
	"crypto/rand"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/kiwistack/endpoint/packaging"
	"github.com/kiwistack/endpoint/packaging/sign"
)

// PubName is the public key file written into dist/.
const PubName = "kiwistack-release.pub"

const devKeyName = "kiwistack-dev.key"

func main() {
	keyPath := flag.String("key", "", "the release secret key file (minisign format); empty: a development key")
	devDir := flag.String("dev-dir", "bin/release-dev", "where the development key is kept when -key is empty")
	pub := flag.String("pub", "", "write the public key's base64 line to this file")
	dist := flag.String("sign", "", "sign every artefact in this directory, refreshing its checksums")
	flag.Parse()
	if err := run(*keyPath, *devDir, *pub, *dist); err != nil {
		fmt.Fprintln(os.Stderr, "mksign:", err)
		os.Exit(1)
	}
}

func run(keyPath, devDir, pub, dist string) error {
	k, err := loadKey(keyPath, devDir)
	if err != nil {
		return err
	}
	if pub != "" {
		if err := os.MkdirAll(filepath.Dir(pub), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(pub, []byte(k.Public().String()+"\n"), 0o644); err != nil {
			return err
		}
	}
	if dist != "" {
		return signDir(k, dist)
	}
	return nil
}

func loadKey(keyPath, devDir string) (*sign.SecretKey, error) {
	if keyPath == "" {
		return devKey(devDir)
	}
	b, err := os.ReadFile(keyPath)
	if err != nil {
		return nil, fmt.Errorf("reading the release key: %w", err)
	}
	k, err := sign.ParseSecretKey(b, []byte(os.Getenv("KIWISTACK_RELEASE_KEY_PASSWORD")))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", keyPath, err)
	}
	return k, nil
}

// devKey returns the development key in dir, generating it the first time.
func devKey(dir string) (*sign.SecretKey, error) {
	path := filepath.Join(dir, devKeyName)
	fmt.Fprintf(os.Stderr, "\n"+
		"mksign: *** KIWISTACK_RELEASE_KEY is not set: using the DEVELOPMENT key %s ***\n"+
		"mksign: *** packages and enrollers built now trust a key that is not the release key: never ship them ***\n\n", path)
	if b, err := os.ReadFile(path); err == nil {
		return sign.ParseSecretKey(b, nil)
	} else if !os.IsNotExist(err) {
		return nil, err
	}
	k, err := sign.GenerateKey(rand.Reader)
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	sec, _ := k.MarshalText()
	pub, _ := k.Public().MarshalText()
	if err := os.WriteFile(path, sec, 0o600); err != nil {
		return nil, err
	}
	if err := os.WriteFile(strings.TrimSuffix(path, ".key")+".pub", pub, 0o644); err != nil {
		return nil, err
	}
	return k, nil
}

// signDir writes the public key into dir, refreshes SHA256SUMS over the
// artefacts and the key, and signs each of them and SHA256SUMS.
func signDir(k *sign.SecretKey, dir string) error {
	stale, _ := filepath.Glob(filepath.Join(dir, "*"+sign.Suffix))
	for _, s := range stale {
		if err := os.Remove(s); err != nil {
			return err
		}
	}
	pub, _ := k.Public().MarshalText()
	if err := os.WriteFile(filepath.Join(dir, PubName), pub, 0o644); err != nil {
		return err
	}
	if err := packaging.WriteSums(dir); err != nil {
		return err
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return err
	}
	var names []string
	for _, e := range entries {
		if e.Type().IsRegular() && !strings.HasPrefix(e.Name(), ".") && e.Name() != PubName {
			names = append(names, e.Name())
		}
	}
	sort.Strings(names)
	now := time.Now()
	for _, n := range names {
		if err := sign.SignFile(k, filepath.Join(dir, n), now); err != nil {
			return err
		}
	}
	fmt.Printf("mksign: signed %d files in %s with key %s (%s)\n", len(names), dir, k.ID, PubName)
	return nil
}
