package enroll

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"

	"go.yaml.in/yaml/v3"
)

// maxConfigBytes bounds the enroller's configuration file.
const maxConfigBytes = 64 << 10

// Config is the enroller's configuration file (paths.Layout.EnrollConfig),
// shipped by the tenant's installer so that a person runs `kiwistack-enroll
// enroll` without flags. Flags override it.
type Config struct {
	// API is the tenant API's URL.
	API string `yaml:"api"`
	// Tenant is the tenant slug.
	Tenant string `yaml:"tenant"`
	// RootFingerprint is the SHA-256 of the tenant root, hex.
	RootFingerprint string `yaml:"root_fingerprint"`
}

// ReadConfig reads the configuration at path. A missing file is an empty
// configuration unless required is set (the person named it with --config).
// Unknown or repeated keys, several documents and oversized files are
// refused with the line to fix.
func ReadConfig(path string, required bool) (Config, error) {
	f, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) && !required {
		return Config{}, nil
	}
	if err != nil {
		return Config{}, fmt.Errorf("reading the enroller's configuration: %w", err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxConfigBytes+1))
	if err != nil {
		return Config{}, fmt.Errorf("reading the enroller's configuration: %w", err)
	}
	c, err := ParseConfig(data)
	if err != nil {
		return Config{}, fmt.Errorf("%s: %w", path, err)
	}
	return c, nil
}

// ParseConfig parses a configuration file's content strictly.
func ParseConfig(data []byte) (Config, error) {
	var c Config
	if len(data) > maxConfigBytes {
		return c, fmt.Errorf("larger than %d bytes; it holds three settings (api, tenant, root_fingerprint)", maxConfigBytes)
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&c); err != nil {
		if errors.Is(err, io.EOF) {
			return Config{}, nil
		}
		return Config{}, fmt.Errorf("%w; the file holds only api, tenant and root_fingerprint, each once", err)
	}
	var extra any
	if err := dec.Decode(&extra); !errors.Is(err, io.EOF) {
		return Config{}, errors.New("more than one YAML document; keep one")
	}
	return c, nil
}

// Merge returns o with every empty field taken from c.
func (c Config) Merge(o EnrollOptions) EnrollOptions {
	if o.APIURL == "" {
		o.APIURL = c.API
	}
	if o.Tenant == "" {
		o.Tenant = c.Tenant
	}
	if o.RootFingerprint == "" {
		o.RootFingerprint = c.RootFingerprint
	}
	return o
}
