package serve

import (
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"go.yaml.in/yaml/v3"

	"github.com/kiwistack/endpoint/internal/yamlnode"
	"github.com/kiwistack/endpoint/server/ca"
)

// MaxConfigSize is the largest configuration file ParseConfig accepts.
const MaxConfigSize = 64 << 10

// Defaults of the configuration.
const (
	DefaultListen    = "0.0.0.0:8443"
	DefaultCATimeout = ca.DefaultRemoteTimeout
)

// Config is the production server's configuration file (docs/serve.md).
type Config struct {
	// Listen is the TCP address to serve on (DefaultListen).
	Listen string
	// Tenant is the tenant slug.
	Tenant string
	// Database is the path of the SQLite store, created if missing.
	Database string
	// APIURL is the API's public base URL, given to agents.
	APIURL string
	// TLS is the server certificate (chain) and key, PEM files.
	TLS TLSFiles
	// CA is the external step-ca.
	CA CAConfig
	// ProvisioningTokenSHA256 is the SHA-256 of the MSP's provisioning
	// token for POST /v1/admin-certificates; nil disables that endpoint.
	ProvisioningTokenSHA256 []byte
	// PolicyFile is the tenant's policies/authorization.yaml
	// (server/policy); empty: the default policy.
	PolicyFile string
	// Hub is the WireGuard hub; nil runs none.
	Hub *HubConfig
	// CommandKeyFile holds the API's command-signing key (Ed25519, PEM),
	// generated there (0600) on first start; empty: no device commands
	// (remote_lock and remote_wipe still lock the device out).
	CommandKeyFile string
	// Directory is the tenant's directory, which every agent configures
	// directory login with; nil: none (docs/directory.md).
	Directory *DirectoryConfig
	// Fleet is the tenant's Fleet server, which every agent configures
	// fleetd with; nil: none (fleet.go, docs/fleet.md).
	Fleet *FleetConfig
	// EscrowKeyFile holds the tenant's disk-escrow private key (X25519,
	// PEM), generated there (0600) on first start; empty: no disk
	// recovery keys are escrowed (docs/disk-escrow.md).
	EscrowKeyFile string
}

// HubConfig is the WireGuard hub (server/hub) over an interface that an
// external wireguard-go or the kernel provides (docs/serve.md).
type HubConfig struct {
	// Interface is the WireGuard interface's name.
	Interface string
	// Prefix is the tunnel prefix; the hub's interface has its first host.
	Prefix netip.Prefix
	// Endpoint is the hub's UDP address as devices reach it, host:port.
	Endpoint string
	// ListenPort, when not 0, is set on the interface.
	ListenPort int
	// KeyFile holds the hub's private key, generated there (0600) on
	// first start.
	KeyFile string
}

// TLSFiles names the server's certificate and key files.
type TLSFiles struct {
	CertFile, KeyFile string
}

// CAConfig is the external step-ca and the provisioners the API uses.
type CAConfig struct {
	// URL is step-ca's base URL as the API reaches it (https).
	URL string
	// AgentURL is step-ca's base URL as devices reach it (for renewal);
	// URL when empty.
	AgentURL string
	// RootFingerprint is the root certificate's SHA-256 (64 hex digits).
	RootFingerprint string
	// Devices and Admins are the JWK provisioners; Admins is optional.
	Devices, Admins Provisioner
	// Timeout bounds one request to step-ca (DefaultCATimeout).
	Timeout time.Duration
}

// Provisioner names a JWK provisioner and its private key file (plain JSON,
// or step's encrypted JWE with PasswordFile).
type Provisioner struct {
	Name, KeyFile, PasswordFile string
}

// Error is one problem of a configuration file. Line and Column are 1-based
// (0 for a problem of the whole file).
type Error struct {
	Line, Column int
	// Path names the key, e.g. ca.device_provisioner.key_file.
	Path string
	// Msg says what is wrong and what to do.
	Msg string
}

func (e *Error) Error() string {
	return yamlnode.Problem{Line: e.Line, Column: e.Column, Path: e.Path, Msg: e.Msg}.String()
}

var (
	slugRE  = regexp.MustCompile(`^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$`)
	hex64RE = regexp.MustCompile(`^[0-9a-fA-F]{64}$`)
	provRE  = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._@-]{0,127}$`)
)

// LoadConfig reads and parses the configuration file at path; relative
// file paths in it are relative to the file's directory.
func LoadConfig(path string) (*Config, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("reading configuration: %w", err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, MaxConfigSize+1))
	if err != nil {
		return nil, fmt.Errorf("reading configuration: %w", err)
	}
	cfg, err := ParseConfig(data)
	if err != nil {
		return nil, fmt.Errorf("configuration %s:\n%w", path, err)
	}
	dir := filepath.Dir(path)
	for _, p := range append(fleetFiles(cfg), &cfg.Database, &cfg.TLS.CertFile, &cfg.TLS.KeyFile,
		&cfg.CA.Devices.KeyFile, &cfg.CA.Devices.PasswordFile, &cfg.CA.Admins.KeyFile, &cfg.CA.Admins.PasswordFile, &cfg.PolicyFile, &cfg.CommandKeyFile, hubKeyFile(cfg), directoryCAFile(cfg), &cfg.EscrowKeyFile) {
		if *p != "" && !filepath.IsAbs(*p) {
			*p = filepath.Join(dir, *p)
		}
	}
	return cfg, nil
}

// hubKeyFile points at the hub's key file, or at a throwaway when there is
// no hub.
func hubKeyFile(cfg *Config) *string {
	if cfg.Hub == nil {
		return new(string)
	}
	return &cfg.Hub.KeyFile
}

// directoryCAFile points at the directory's CA file, or at a throwaway
// when there is no directory.
func directoryCAFile(cfg *Config) *string {
	if cfg.Directory == nil {
		return new(string)
	}
	return &cfg.Directory.CAFile
}

// ParseConfig reads a configuration strictly: unknown and duplicate keys,
// wrong types, anchors, aliases and more than one document are refused,
// then every value is checked. Every error is an *Error (several are
// joined with errors.Join, in file order) saying where and what to do.
func ParseConfig(data []byte) (*Config, error) {
	if len(data) > MaxConfigSize {
		return nil, &Error{Msg: fmt.Sprintf("the file has %d bytes, the limit is %d", len(data), MaxConfigSize)}
	}
	if !utf8.Valid(data) {
		return nil, &Error{Msg: "the file is not valid UTF-8: save it as UTF-8"}
	}
	root, err := yamlnode.Decode(data)
	if err != nil {
		var se *yamlnode.SyntaxError
		var xe *yamlnode.ExtraDocumentError
		switch {
		case errors.Is(err, yamlnode.ErrEmpty):
			return nil, &Error{Msg: "the file is empty: see docs/serve.md for an example"}
		case errors.As(err, &xe):
			return nil, &Error{Line: xe.Line, Column: xe.Column, Msg: "a second YAML document: keep one (remove the ---)"}
		case errors.As(err, &se) && se.Line > 0:
			return nil, &Error{Line: se.Line, Column: 1, Msg: "not valid YAML: " + se.Msg}
		case se != nil:
			return nil, &Error{Msg: "not valid YAML: " + se.Msg}
		}
		return nil, err
	}
	p := &parser{c: &Config{Listen: DefaultListen}}
	p.c.CA.Timeout = DefaultCATimeout
	p.NoAnchors(root)
	if p.Len() == 0 {
		p.top(root)
	}
	if err := p.Err(wrapProblem); err != nil {
		return nil, err
	}
	return p.c, nil
}

func wrapProblem(pr yamlnode.Problem) error {
	return &Error{Line: pr.Line, Column: pr.Column, Path: pr.Path, Msg: pr.Msg}
}

// parser reads one file into c, collecting its problems.
type parser struct {
	yamlnode.Reader
	c *Config
}

// mapping reads the keys of n, refusing non-mappings, unknown and duplicate
// keys, and reports the required keys that are missing. set is called for
// every known key.
func (p *parser) mapping(n *yaml.Node, path string, known, required []string, set func(key string, v *yaml.Node, path string)) {
	seen := map[string]bool{}
	if !p.Mapping(n, path, func(key string, k, v *yaml.Node) {
		seen[key] = true
		if !slices.Contains(known, key) {
			p.Unknown(k, path, known...)
			return
		}
		set(key, v, yamlnode.Join(path, key))
	}) {
		return
	}
	for _, r := range required {
		if !seen[r] {
			p.Errorf(n, yamlnode.Join(path, r), "missing: add it (see docs/serve.md)")
		}
	}
}

func (p *parser) str(n *yaml.Node, path string) (string, bool) {
	if n.Kind != yaml.ScalarNode || n.Tag != "!!str" || n.Value == "" {
		p.Errorf(n, path, "want a non-empty string, got %s (quote it if it is one)", yamlnode.Describe(n))
		return "", false
	}
	return n.Value, true
}

// httpsURL reads a base URL https://HOST[:PORT] without path, query or user.
func (p *parser) httpsURL(n *yaml.Node, path string) string {
	s, ok := p.str(n, path)
	if !ok {
		return ""
	}
	u, err := url.Parse(s)
	if err != nil || u.Scheme != "https" || u.Host == "" || u.User != nil || (u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.Fragment != "" {
		p.Errorf(n, path, "%q is not a base URL: want https://HOST[:PORT] with no path", s)
		return ""
	}
	return strings.TrimSuffix(s, "/")
}

func (p *parser) file(n *yaml.Node, path string) string {
	s, _ := p.str(n, path)
	if strings.ContainsRune(s, 0) {
		p.Errorf(n, path, "a file name cannot contain NUL")
		return ""
	}
	return s
}

func (p *parser) top(root *yaml.Node) {
	known := []string{"listen", "tenant", "database", "api_url", "tls", "ca", "provisioning_token_sha256", "policy_file", "hub", "command_key_file", "directory", "fleet", "escrow_key_file"}
	p.mapping(root, "", known, []string{"tenant", "database", "api_url", "tls", "ca"}, func(key string, v *yaml.Node, path string) {
		switch key {
		case "listen":
			if s, ok := p.str(v, path); ok {
				if _, port, err := net.SplitHostPort(s); err != nil || port == "" {
					p.Errorf(v, path, "%q is not HOST:PORT (e.g. 0.0.0.0:8443 or [::]:443)", s)
				}
				p.c.Listen = s
			}
		case "tenant":
			if s, ok := p.str(v, path); ok {
				if !slugRE.MatchString(s) {
					p.Errorf(v, path, "%q is not a tenant slug: 1-63 lowercase letters, digits and inner hyphens (e.g. acme-corp)", s)
				}
				p.c.Tenant = s
			}
		case "database":
			p.c.Database = p.file(v, path)
		case "policy_file":
			p.c.PolicyFile = p.file(v, path)
		case "command_key_file":
			p.c.CommandKeyFile = p.file(v, path)
		case "api_url":
			p.c.APIURL = p.httpsURL(v, path)
		case "tls":
			p.mapping(v, path, []string{"cert_file", "key_file"}, []string{"cert_file", "key_file"}, func(key string, v *yaml.Node, path string) {
				if key == "cert_file" {
					p.c.TLS.CertFile = p.file(v, path)
				} else {
					p.c.TLS.KeyFile = p.file(v, path)
				}
			})
		case "ca":
			p.ca(v, path)
		case "hub":
			p.hub(v, path)
		case "directory":
			p.directory(v, path)
		case "fleet":
			p.fleet(v, path)
		case "escrow_key_file":
			p.c.EscrowKeyFile = p.file(v, path)
		case "provisioning_token_sha256":
			if s, ok := p.str(v, path); ok {
				if !hex64RE.MatchString(s) {
					p.Errorf(v, path, "want the 64 hex digits of the token's SHA-256 (sha256sum), not the token itself")
					return
				}
				p.c.ProvisioningTokenSHA256, _ = hex.DecodeString(s)
			}
		}
	})
}

func (p *parser) ca(n *yaml.Node, path string) {
	known := []string{"url", "agent_url", "root_fingerprint", "timeout", "device_provisioner", "admin_provisioner"}
	p.mapping(n, path, known, []string{"url", "root_fingerprint", "device_provisioner"}, func(key string, v *yaml.Node, path string) {
		switch key {
		case "url":
			p.c.CA.URL = p.httpsURL(v, path)
		case "agent_url":
			p.c.CA.AgentURL = p.httpsURL(v, path)
		case "root_fingerprint":
			if s, ok := p.str(v, path); ok {
				s = strings.ToLower(strings.ReplaceAll(s, ":", ""))
				if !hex64RE.MatchString(s) {
					p.Errorf(v, path, "want the root's SHA-256 as 64 hex digits (step certificate fingerprint root_ca.crt)")
				}
				p.c.CA.RootFingerprint = s
			}
		case "timeout":
			d, err := time.ParseDuration(v.Value)
			if v.Kind != yaml.ScalarNode || v.Tag != "!!str" || err != nil || d < time.Second || d > 5*time.Minute {
				p.Errorf(v, path, "want a duration between 1s and 5m such as 30s, got %s", yamlnode.Describe(v))
				return
			}
			p.c.CA.Timeout = d
		case "device_provisioner":
			p.c.CA.Devices = p.provisioner(v, path, ca.ProvisionerName)
		case "admin_provisioner":
			p.c.CA.Admins = p.provisioner(v, path, ca.AdminProvisionerName)
		}
	})
}

func (p *parser) hub(n *yaml.Node, path string) {
	h := &HubConfig{}
	known := []string{"interface", "prefix", "endpoint", "listen_port", "key_file"}
	p.mapping(n, path, known, []string{"interface", "prefix", "endpoint", "key_file"}, func(key string, v *yaml.Node, path string) {
		switch key {
		case "interface":
			if s, ok := p.str(v, path); ok {
				if len(s) > 15 || strings.ContainsAny(s, "/ \x00") {
					p.Errorf(v, path, "%q is not an interface name (at most 15 characters, no / or spaces)", s)
				}
				h.Interface = s
			}
		case "prefix":
			if s, ok := p.str(v, path); ok {
				pr, err := netip.ParsePrefix(s)
				if err != nil || pr.Bits() > pr.Addr().BitLen()-2 {
					p.Errorf(v, path, "%q is not a tunnel prefix with room for devices (e.g. 100.96.0.0/16)", s)
				}
				h.Prefix = pr.Masked()
			}
		case "endpoint":
			if s, ok := p.str(v, path); ok {
				if host, port, err := net.SplitHostPort(s); err != nil || host == "" || port == "" {
					p.Errorf(v, path, "%q is not HOST:PORT as devices reach the hub (e.g. hub.example.com:51820)", s)
				}
				h.Endpoint = s
			}
		case "listen_port":
			port, err := strconv.Atoi(v.Value)
			if v.Kind != yaml.ScalarNode || v.Tag != "!!int" || err != nil || port < 1 || port > 65535 {
				p.Errorf(v, path, "want a UDP port between 1 and 65535, got %s", yamlnode.Describe(v))
				return
			}
			h.ListenPort = port
		case "key_file":
			h.KeyFile = p.file(v, path)
		}
	})
	p.c.Hub = h
}

func (p *parser) provisioner(n *yaml.Node, path, defaultName string) Provisioner {
	pr := Provisioner{Name: defaultName}
	p.mapping(n, path, []string{"name", "key_file", "password_file"}, []string{"key_file"}, func(key string, v *yaml.Node, path string) {
		switch key {
		case "name":
			if s, ok := p.str(v, path); ok {
				if !provRE.MatchString(s) {
					p.Errorf(v, path, "%q is not a provisioner name as in step-ca's ca.json", s)
				}
				pr.Name = s
			}
		case "key_file":
			pr.KeyFile = p.file(v, path)
		case "password_file":
			pr.PasswordFile = p.file(v, path)
		}
	})
	return pr
}
