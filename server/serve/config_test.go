package serve

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

const fp = "3f4a9c1e0b7d52a86e1f09c4d3b2a17e5f6c8d9a0b1c2d3e4f5a6b7c8d9e0f1a"

const minimal = `tenant: acme
database: api.db
api_url: https://api.acme.test
tls:
  cert_file: tls.crt
  key_file: tls.key
ca:
  url: https://ca.acme.test:9000
  root_fingerprint: ` + fp + `
  device_provisioner:
    key_file: devices.json
`

func TestParseConfigMinimal(t *testing.T) {
	c, err := ParseConfig([]byte(minimal))
	if err != nil {
		t.Fatal(err)
	}
	if c.Listen != DefaultListen || c.Tenant != "acme" || c.CA.Devices.Name != "kiwistack-devices" ||
		c.CA.Timeout != DefaultCATimeout || c.CA.Admins.KeyFile != "" || c.CA.URL != "https://ca.acme.test:9000" {
		t.Errorf("%+v", c)
	}
}

// docExample returns the YAML example of docs/serve.md.
func docExample(t *testing.T) []byte {
	t.Helper()
	doc, err := os.ReadFile("../../docs/serve.md")
	if err != nil {
		t.Fatal(err)
	}
	_, rest, ok := bytes.Cut(doc, []byte("```yaml\n"))
	example, _, ok2 := bytes.Cut(rest, []byte("```"))
	if !ok || !ok2 {
		t.Fatal("docs/serve.md has no yaml example")
	}
	return example
}

func TestDocExample(t *testing.T) {
	c, err := ParseConfig(docExample(t))
	if err != nil {
		t.Fatalf("the example of docs/serve.md does not parse:\n%v", err)
	}
	if c.Tenant != "acme-corp" || c.CA.Admins.Name != "kiwistack-admins" || c.CA.Devices.PasswordFile == "" ||
		c.CA.AgentURL != "https://ca.acme.example" || c.CA.Timeout != 30*time.Second || len(c.ProvisioningTokenSHA256) != 32 {
		t.Errorf("%+v", c)
	}
}

func TestLoadConfigRelativePaths(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "serve.yaml")
	if err := os.WriteFile(path, []byte(minimal), 0o600); err != nil {
		t.Fatal(err)
	}
	c, err := LoadConfig(path)
	if err != nil {
		t.Fatal(err)
	}
	if c.Database != filepath.Join(dir, "api.db") || c.CA.Devices.KeyFile != filepath.Join(dir, "devices.json") {
		t.Errorf("paths not resolved against the file's directory: %+v", c)
	}
}

func TestParseConfigErrors(t *testing.T) {
	for _, tc := range []struct {
		name, yaml, want string
	}{
		{"empty", "", "empty"},
		{"unknown key", minimal + "colour: blue\n", "12:1: colour: unknown key"},
		{"duplicate key", minimal + "tenant: other\n", "12:1: tenant: duplicate key (first at line 1)"},
		{"nested unknown", strings.Replace(minimal, "  key_file: tls.key", "  key_file: tls.key\n  ca_file: x", 1), "7:3: tls.ca_file: unknown key"},
		{"missing", strings.Replace(minimal, "database: api.db\n", "", 1), "database: missing"},
		{"bad slug", strings.Replace(minimal, "tenant: acme", "tenant: Acme Corp", 1), "1:9: tenant: \"Acme Corp\" is not a tenant slug"},
		{"http url", strings.Replace(minimal, "https://ca.acme.test:9000", "http://ca.acme.test", 1), "ca.url: \"http://ca.acme.test\" is not a base URL"},
		{"url with path", strings.Replace(minimal, "https://api.acme.test", "https://api.acme.test/v1", 1), "api_url"},
		{"short fingerprint", strings.Replace(minimal, fp, "abcd", 1), "ca.root_fingerprint: want the root's SHA-256"},
		{"number as string", strings.Replace(minimal, "tenant: acme", "tenant: 42", 1), "want a non-empty string, got \"42\""},
		{"alias", "tenant: &t acme\n", "anchors"},
		{"two documents", minimal + "---\ntenant: b\n", "second YAML document"},
		{"syntax", "tenant: [\n", "not valid YAML"},
		{"bad listen", minimal + "listen: 8443\n", "listen: want a non-empty string"},
		{"bad listen string", minimal + "listen: \"localhost\"\n", "is not HOST:PORT"},
		{"bad timeout", strings.Replace(minimal, "ca:\n", "ca:\n  timeout: 1h\n", 1), "ca.timeout: want a duration"},
		{"token not hash", minimal + "provisioning_token_sha256: hunter2\n", "not the token itself"},
		{"not a mapping", "- a\n- b\n", "want a mapping"},
		{"not utf8", "tenant: \xff\n", "UTF-8"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseConfig([]byte(tc.yaml))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err %v, want one containing %q", err, tc.want)
			}
			var e *Error
			if !errors.As(err, &e) {
				t.Errorf("%T is not a *serve.Error", err)
			}
		})
	}
}

func FuzzParseConfig(f *testing.F) {
	f.Add([]byte(minimal))
	f.Add([]byte("tenant: &a x\nb: *a\n"))
	f.Add([]byte("ca: {url: 1, device_provisioner: []}\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := ParseConfig(data)
		if err != nil {
			var e *Error
			if !errors.As(err, &e) {
				t.Fatalf("%T is not a *serve.Error: %v", err, err)
			}
			return
		}
		if c.Tenant == "" || c.CA.Devices.KeyFile == "" || len(c.CA.RootFingerprint) != 64 || !strings.HasPrefix(c.CA.URL, "https://") {
			t.Fatalf("accepted an incomplete configuration: %+v", c)
		}
	})
}
