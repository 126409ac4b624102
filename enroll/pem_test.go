package enroll

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestParseBundle(t *testing.T) {
	root, err := os.ReadFile(filepath.Join("..", "..", "shared", "fixtures", "yubikey", "attestation", "yubico-piv-root-ca.pem"))
	if err != nil {
		t.Fatalf("fixture missing (../shared beside the repository): %v", err)
	}
	for _, tc := range []struct {
		name  string
		input string
		n     int
		err   string
	}{
		{"one", string(root), 1, ""},
		{"two", string(root) + "\n" + string(root), 2, ""},
		{"empty", "", 0, "no certificate"},
		{"garbage", "garbage", 0, "not PEM"},
		{"key block", "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n", 0, "PRIVATE KEY"},
		{"trailing garbage", string(root) + "junk", 0, "not PEM"},
		{"broken DER", "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n", 0, "certificate 1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			certs, err := parseBundle([]byte(tc.input))
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("err = %v, want one mentioning %q", err, tc.err)
				}
				return
			}
			if err != nil || len(certs) != tc.n {
				t.Fatalf("got %d certificates, %v; want %d", len(certs), err, tc.n)
			}
		})
	}
}

func TestReadSecrets(t *testing.T) {
	dir := t.TempDir()
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	good := write("good.yaml", "serial: 12345678\npin: \"24681357\"\npuk: \"13572468\"\nmanagement_key: "+strings.Repeat("ab", 24)+"\n")
	s, err := readSecrets(good)
	if err != nil || s.serial != 12345678 || s.current.PIN != "24681357" || len(s.current.ManagementKey) != 24 {
		t.Fatalf("readSecrets = %+v, %v", s, err)
	}
	for name, content := range map[string]string{
		"unknown field": "serial: 1\npin: x\npuk: y\nmanagement_key: " + strings.Repeat("ab", 24) + "\nextra: 1\n",
		"short key":     "serial: 1\npin: x\npuk: y\nmanagement_key: abab\n",
		"not hex":       "serial: 1\npin: x\npuk: y\nmanagement_key: " + strings.Repeat("zz", 24) + "\n",
		"not yaml":      "{{{",
	} {
		if _, err := readSecrets(write(strings.ReplaceAll(name, " ", "-"), content)); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

func FuzzParseBundle(f *testing.F) {
	root, _ := os.ReadFile(filepath.Join("..", "..", "shared", "fixtures", "yubikey", "attestation", "yubico-piv-root-ca.pem"))
	f.Add(root)
	f.Add([]byte("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		certs, err := parseBundle(b)
		if err == nil && len(certs) == 0 {
			t.Fatal("no error and no certificate")
		}
		if err != nil && certs != nil {
			t.Fatal("certificates returned with an error")
		}
	})
}
