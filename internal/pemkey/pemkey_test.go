package pemkey

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"strings"
	"testing"
)

func encode(t testing.TB, typ string, key any) []byte {
	t.Helper()
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der})
}

func TestParseECDSA(t *testing.T) {
	ec, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	_, ed, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		name    string
		data    []byte
		wantErr string
	}{
		{"ecdsa", encode(t, "PRIVATE KEY", ec), ""},
		{"empty", nil, "no PEM private key"},
		{"not PEM", []byte("hello"), "no PEM private key"},
		{"wrong block type", encode(t, "EC PRIVATE KEY", ec), "no PEM private key"},
		{"not PKCS #8", pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: []byte{1, 2, 3}}), "pkcs8"},
		{"ed25519", encode(t, "PRIVATE KEY", ed), "unexpected key type ed25519.PrivateKey"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			key, err := ParseECDSA(tt.data)
			if tt.wantErr == "" {
				if err != nil || !key.Equal(ec) {
					t.Fatalf("ParseECDSA = %v, %v; want the key", key, err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("ParseECDSA error = %v, want %q", err, tt.wantErr)
			}
		})
	}
}

func FuzzParseECDSA(f *testing.F) {
	ec, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(encode(f, "PRIVATE KEY", ec))
	f.Add([]byte("-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		key, err := ParseECDSA(data)
		if (key == nil) == (err == nil) {
			t.Fatalf("ParseECDSA = %v, %v", key, err)
		}
	})
}
