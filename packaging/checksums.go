package packaging

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// SumsName is the checksums file every package builder refreshes in dist/.
const SumsName = "SHA256SUMS"

// WriteSums writes dir/SHA256SUMS in sha256sum(1) format ("<hex>  <name>")
// for every regular file in dir except itself and detached signatures
// (*.minisig, made after it), sorted by name, so that `sha256sum -c
// SHA256SUMS` in dir checks every artefact.
func WriteSums(dir string) error {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return fmt.Errorf("writing checksums: %w", err)
	}
	var names []string
	for _, e := range entries {
		if e.Type().IsRegular() && e.Name() != SumsName && !strings.HasPrefix(e.Name(), ".") &&
			!strings.HasSuffix(e.Name(), ".minisig") {
			names = append(names, e.Name())
		}
	}
	sort.Strings(names)
	var b strings.Builder
	for _, n := range names {
		sum, err := fileSHA256(filepath.Join(dir, n))
		if err != nil {
			return fmt.Errorf("writing checksums: %w", err)
		}
		fmt.Fprintf(&b, "%s  %s\n", sum, n)
	}
	if err := os.WriteFile(filepath.Join(dir, SumsName), []byte(b.String()), 0o644); err != nil {
		return fmt.Errorf("writing checksums: %w", err)
	}
	return nil
}

func fileSHA256(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", fmt.Errorf("hashing %s: %w", path, err)
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}
