package enroll

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestParseConfig(t *testing.T) {
	good := "api: https://enroll.acme.example\ntenant: acme-corp\nroot_fingerprint: " + strings.Repeat("ab", 32) + "\n"
	c, err := ParseConfig([]byte(good))
	if err != nil {
		t.Fatal(err)
	}
	if c.API != "https://enroll.acme.example" || c.Tenant != "acme-corp" || len(c.RootFingerprint) != 64 {
		t.Errorf("parsed %+v", c)
	}
	for name, bad := range map[string]string{
		"unknown key":   good + "pin: 123456\n",
		"duplicate key": good + "tenant: other\n",
		"two documents": good + "---\ntenant: other\n",
		"not a map":     "- a\n- b\n",
		"oversized":     "# " + strings.Repeat("x", maxConfigBytes) + "\n",
	} {
		t.Run(name, func(t *testing.T) {
			if _, err := ParseConfig([]byte(bad)); err == nil {
				t.Fatal("accepted")
			}
		})
	}
	if c, err := ParseConfig(nil); err != nil || c != (Config{}) {
		t.Errorf("empty file: %+v, %v", c, err)
	}
}

func TestReadConfigMissingAndMerge(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "enroll.yaml")
	if c, err := ReadConfig(missing, false); err != nil || c != (Config{}) {
		t.Errorf("missing default file: %+v, %v", c, err)
	}
	if _, err := ReadConfig(missing, true); err == nil {
		t.Error("a missing file named with --config is accepted")
	}
	if err := os.WriteFile(missing, []byte("tenant: acme-corp\napi: https://a.example\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	c, err := ReadConfig(missing, true)
	if err != nil {
		t.Fatal(err)
	}
	o := c.Merge(EnrollOptions{APIURL: "https://flag.example"})
	if o.APIURL != "https://flag.example" || o.Tenant != "acme-corp" {
		t.Errorf("flags must override the file, the file fills the rest: %+v", o)
	}
}

func FuzzParseConfig(f *testing.F) {
	f.Add([]byte("api: https://enroll.acme.example\ntenant: acme-corp\n"))
	f.Add([]byte("tenant: [a, b]\n"))
	f.Add([]byte("&a x: *a\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := ParseConfig(data)
		if err != nil && c != (Config{}) {
			t.Fatalf("error %v with a non-empty config %+v", err, c)
		}
	})
}

// TestShippedDefaultsParse reads the default enroll.yaml every installer
// ships: each must be a valid, empty configuration of this parser.
func TestShippedDefaultsParse(t *testing.T) {
	for _, p := range []string{
		"../packaging/deb/files/enroll.yaml",
		"../packaging/msi/files/enroll.yaml",
		"../packaging/pkg/files/enroll.yaml",
	} {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		c, err := ParseConfig(b)
		if err != nil || c != (Config{}) {
			t.Errorf("%s: %+v, %v; want an empty, valid configuration", p, c, err)
		}
	}
}
