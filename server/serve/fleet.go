package serve

import (
	"bytes"
	"fmt"
	"os"

	"go.yaml.in/yaml/v3"

	"github.com/kiwistack/endpoint/agent/fleet"
	"github.com/kiwistack/endpoint/enroll/protocol"
	"github.com/kiwistack/endpoint/server/ca"
)

// FleetConfig is the tenant's Fleet server, which every agent configures
// Fleet's agent (fleetd / orbit) with (agent/fleet, docs/fleet.md).
type FleetConfig struct {
	// URL is Fleet's https base URL.
	URL string
	// EnrollSecretFile holds the Fleet enroll secret of the tenant's team
	// (one line; 0600, like the provisioner keys).
	EnrollSecretFile string
	// CertificateFile, optional, is the PEM of the CA of Fleet's server
	// certificate when it is not publicly trusted.
	CertificateFile string
}

// Load reads the secret (refusing a file others may read) and the
// certificate, and returns the section as agents receive it, validated.
func (f *FleetConfig) Load() (*protocol.FleetConfig, error) {
	secret, err := ca.ReadSecretFile(f.EnrollSecretFile)
	if err != nil {
		return nil, fmt.Errorf("reading fleet.enroll_secret_file: %w", err)
	}
	pf := &protocol.FleetConfig{URL: f.URL, EnrollSecret: string(bytes.TrimRight(secret, "\r\n"))}
	if f.CertificateFile != "" {
		c, err := os.ReadFile(f.CertificateFile)
		if err != nil {
			return nil, fmt.Errorf("reading fleet.certificate_file: %w", err)
		}
		pf.Certificate = string(c)
	}
	if err := fleet.Validate(*pf); err != nil {
		return nil, fmt.Errorf("fleet section (%s, %s): %w", f.EnrollSecretFile, f.CertificateFile, err)
	}
	return pf, nil
}

func (p *parser) fleet(n *yaml.Node, path string) {
	f := &FleetConfig{}
	p.mapping(n, path, []string{"url", "enroll_secret_file", "certificate_file"}, []string{"url", "enroll_secret_file"},
		func(key string, v *yaml.Node, path string) {
			switch key {
			case "url":
				f.URL = p.httpsURL(v, path)
			case "enroll_secret_file":
				f.EnrollSecretFile = p.file(v, path)
			case "certificate_file":
				f.CertificateFile = p.file(v, path)
			}
		})
	p.c.Fleet = f
}

// fleetFiles points at the Fleet section's files, or at throwaways when
// there is no Fleet.
func fleetFiles(cfg *Config) []*string {
	if cfg.Fleet == nil {
		return nil
	}
	return []*string{&cfg.Fleet.EnrollSecretFile, &cfg.Fleet.CertificateFile}
}
