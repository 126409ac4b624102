package wgkey

import (
	"crypto/ecdh"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"testing"
)

// p256Key is the P-256 key of RFC 6979, appendix A.2.5.
func p256Key(t testing.TB) *ecdsa.PrivateKey {
	t.Helper()
	k, err := ecdsa.ParseRawPrivateKey(elliptic.P256(), []byte{
		0xc9, 0xaf, 0xa9, 0xd8, 0x45, 0xba, 0x75, 0x16, 0x6b, 0x5c, 0x21, 0x57, 0x67, 0xb1, 0xd6, 0x93,
		0x4e, 0x50, 0xc3, 0xdb, 0x36, 0xe8, 0x9b, 0x12, 0x7b, 0x8a, 0x62, 0x2b, 0x12, 0x0f, 0x67, 0x21,
	})
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func TestDeriveRejects(t *testing.T) {
	p384, err := ecdsa.GenerateKey(elliptic.P384(), nil)
	if err != nil {
		t.Fatal(err)
	}
	x25519, err := ecdh.X25519().GenerateKey(nil)
	if err != nil {
		t.Fatal(err)
	}
	good := p256Key(t)
	tests := []struct {
		name     string
		key      any
		tenant   string
		deviceID string
		version  int
		want     error
	}{
		{"p384", p384, "acme", "d1", 1, ErrUnsupportedKey},
		{"x25519", x25519, "acme", "d1", 1, ErrUnsupportedKey},
		{"nil", nil, "acme", "d1", 1, ErrUnsupportedKey},
		{"nil ecdsa", (*ecdsa.PrivateKey)(nil), "acme", "d1", 1, ErrUnsupportedKey},
		{"public key", &good.PublicKey, "acme", "d1", 1, ErrUnsupportedKey},
		{"short ed25519", ed25519.PrivateKey(make([]byte, 31)), "acme", "d1", 1, ErrUnsupportedKey},
		{"signer only", struct{}{}, "acme", "d1", 1, ErrUnsupportedKey},
		{"empty tenant", good, "", "d1", 1, ErrInvalidName},
		{"empty id", good, "acme", "", 1, ErrInvalidName},
		{"nul in id", good, "acme", "d\x001", 1, ErrInvalidName},
		{"nul in tenant", good, "ac\x00me", "d1", 1, ErrInvalidName},
		{"overlong id", good, "acme", strings.Repeat("x", 1<<16), 1, ErrInvalidName},
		{"version 0", good, "acme", "d1", 0, ErrUnsupportedVersion},
		{"version 2", good, "acme", "d1", 2, ErrUnsupportedVersion},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			k, err := DeriveVersion(tt.version, tt.key, tt.tenant, tt.deviceID)
			if !errors.Is(err, tt.want) {
				t.Fatalf("err = %v, want %v", err, tt.want)
			}
			if k != (Key{}) {
				t.Errorf("key %v returned with error", k)
			}
			if msg := err.Error(); msg != strings.ToLower(msg[:1])+msg[1:] {
				t.Errorf("error %q is not lowercase", msg)
			}
		})
	}
}

// TestDeriveSeparates checks that every input changes the key, including
// splits of the same bytes between tenant and id that a plain
// concatenation would confuse.
func TestDeriveSeparates(t *testing.T) {
	dk := p256Key(t)
	seen := map[string]string{}
	for _, in := range [][2]string{
		{"acme", "d1"}, {"acme", "d2"}, {"acmf", "d1"},
		{"ab", "c"}, {"a", "bc"}, {"a", "b\x01c"}, {"a\x01b", "c"},
	} {
		k, err := Derive(dk, in[0], in[1])
		if err != nil {
			t.Fatal(err)
		}
		if prev, ok := seen[k.PublicKey]; ok {
			t.Errorf("%q and %s derive the same key", in, prev)
		}
		seen[k.PublicKey] = fmt.Sprintf("%q", in)
	}
	again, err := Derive(p256Key(t), "acme", "d1")
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := seen[again.PublicKey]; !ok {
		t.Error("derivation is not deterministic")
	}
}

// TestDeriveKeyShape checks that the private key is clamped and that the
// public key is its X25519 public key.
func TestDeriveKeyShape(t *testing.T) {
	k, err := Derive(p256Key(t), "acme", "d1")
	if err != nil {
		t.Fatal(err)
	}
	if k.Version != Version {
		t.Errorf("Version = %d, want %d", k.Version, Version)
	}
	priv, err := base64.StdEncoding.DecodeString(k.PrivateKey)
	if err != nil || len(priv) != 32 {
		t.Fatalf("private key %q: %v", k.PrivateKey, err)
	}
	if priv[0]&7 != 0 || priv[31]&0x80 != 0 || priv[31]&0x40 == 0 {
		t.Errorf("private key %x is not clamped", priv)
	}
	x, err := ecdh.X25519().NewPrivateKey(priv)
	if err != nil {
		t.Fatal(err)
	}
	if got := base64.StdEncoding.EncodeToString(x.PublicKey().Bytes()); got != k.PublicKey {
		t.Errorf("public key %s, want %s", k.PublicKey, got)
	}
}

// TestKeyPrintsNoSecret checks that formatting a Key never shows the
// private key.
func TestKeyPrintsNoSecret(t *testing.T) {
	k, err := Derive(p256Key(t), "acme", "d1")
	if err != nil {
		t.Fatal(err)
	}
	for _, verb := range []string{"%v", "%+v", "%#v", "%s"} {
		out := fmt.Sprintf(verb, k)
		if strings.Contains(out, k.PrivateKey) || !strings.Contains(out, k.PublicKey) {
			t.Errorf("%s prints %q", verb, out)
		}
	}
}

func TestURI(t *testing.T) {
	k, err := Derive(p256Key(t), "acme", "d1")
	if err != nil {
		t.Fatal(err)
	}
	uri, err := k.URI()
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(uri, "urn:kiwistack:wg:") || strings.ContainsAny(uri, "+/=") {
		t.Errorf("URI %q is not urn:kiwistack:wg:<unpadded base64url>", uri)
	}
	pub, err := ParseURI(uri)
	if err != nil || pub != k.PublicKey {
		t.Errorf("ParseURI(%q) = %q, %v; want %q", uri, pub, err, k.PublicKey)
	}
	for _, bad := range []string{
		"",
		"urn:kiwistack:wg:",
		"URN:kiwistack:wg:" + uri[len(URIPrefix):],
		uri + "=",
		uri + "A",
		uri[:len(uri)-1],
		"urn:kiwistack:wg:JH7PIBbJ0KdIVi99NpcbdIdFFcYJjqyHrkcfi68IgFZ", // non-zero trailing bits
		"urn:kiwistack:wg:" + k.PublicKey,                              // std alphabet and padding
		"urn:kiwistack:wg:" + base64.RawURLEncoding.EncodeToString(make([]byte, 33)),
	} {
		if pub, err := ParseURI(bad); !errors.Is(err, ErrInvalidURI) {
			t.Errorf("ParseURI(%q) = %q, %v; want ErrInvalidURI", bad, pub, err)
		}
	}
	if _, err := PublicKeyURI("not base64"); err == nil {
		t.Error("PublicKeyURI accepted a bad key")
	}
}

// FuzzParseURI checks that ParseURI, which reads certificates, never panics
// and accepts only canonical URIs.
func FuzzParseURI(f *testing.F) {
	f.Add("urn:kiwistack:wg:JH7PIBbJ0KdIVi99NpcbdIdFFcYJjqyHrkcfi68IgFY")
	f.Add("urn:kiwistack:wg:")
	f.Add("urn:kiwistack:wg:JH7PIBbJ0KdIVi99NpcbdIdFFcYJjqyHrkcfi68IgFZ")
	f.Fuzz(func(t *testing.T, s string) {
		pub, err := ParseURI(s)
		if err != nil {
			return
		}
		back, err := PublicKeyURI(pub)
		if err != nil || back != s {
			t.Fatalf("ParseURI(%q) = %q, which encodes back to %q, %v", s, pub, back, err)
		}
	})
}

func BenchmarkDerive(b *testing.B) {
	dk := p256Key(b)
	for b.Loop() {
		if _, err := Derive(dk, "acme", "0b9c3f4e-6a55-4c1e-9a43-1f2d0c8e7a21"); err != nil {
			b.Fatal(err)
		}
	}
}
