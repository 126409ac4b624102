package escrow

import (
	"bytes"
	"encoding/base64"
	"errors"
	"strings"
	"testing"
)

func TestRecoveryKeyRoundTrip(t *testing.T) {
	k, err := NewRecoveryKey(nil)
	if err != nil {
		t.Fatal(err)
	}
	s := k.String()
	if len(s) != Groups*GroupDigits+Groups-1 {
		t.Fatalf("%q: length %d", s, len(s))
	}
	for _, in := range []string{s, strings.ReplaceAll(s, "-", " "), strings.ReplaceAll(s, "-", ""), " " + strings.ReplaceAll(s, "-", " - ") + "\n"} {
		got, err := ParseRecoveryKey(in)
		if err != nil || !got.Equal(k) {
			t.Errorf("ParseRecoveryKey(%q) = %v, %v", in, got, err)
		}
	}
	var zero RecoveryKey
	if z := zero.String(); z != "000000-000000-000000-000000-000000-000000-000000-000000" {
		t.Errorf("zero key %q", z)
	}
	max := RecoveryKey{}
	for i := range max {
		max[i] = 0xff
	}
	if g := max.String()[:6]; g != "720885" {
		t.Errorf("largest group %q, want 720885 (65535 × 11)", g)
	}
}

func TestRecoveryKeyTypos(t *testing.T) {
	k := RecoveryKey{0x12, 0x34, 0x56, 0x78, 0x9a, 0xbc, 0xde, 0xf0, 1, 2, 3, 4, 5, 6, 7, 8}
	s := k.String()
	// Every single-digit change and every swap of two different adjacent
	// digits within a group is caught by the multiple-of-11 check.
	for i := 0; i < len(s); i++ {
		if s[i] == '-' {
			continue
		}
		for d := byte('0'); d <= '9'; d++ {
			if d == s[i] {
				continue
			}
			typo := s[:i] + string(d) + s[i+1:]
			if _, err := ParseRecoveryKey(typo); !errors.Is(err, ErrRecoveryKey) {
				t.Fatalf("digit typo %q accepted", typo)
			}
		}
		if i+1 < len(s) && s[i+1] != '-' && s[i] != s[i+1] {
			swap := s[:i] + string(s[i+1]) + string(s[i]) + s[i+2:]
			if _, err := ParseRecoveryKey(swap); !errors.Is(err, ErrRecoveryKey) {
				t.Fatalf("transposition %q accepted", swap)
			}
		}
	}
	for _, tc := range []struct{ in, want string }{
		{"", "0 digits"},
		{s[:len(s)-1], "47 digits"},
		{s + "1", "more than 48 digits"},
		{strings.Replace(s, "-", "/", 1), `character '/'`},
		{"999999" + s[6:], "group 1 (999999) has a typo"},
		{"720896" + s[6:], "group 1 (720896) has a typo"},
	} {
		_, err := ParseRecoveryKey(tc.in)
		if !errors.Is(err, ErrRecoveryKey) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("ParseRecoveryKey(%q) = %v, want %q", tc.in, err, tc.want)
		}
	}
}

func TestEnvelope(t *testing.T) {
	priv, err := GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	k, _ := NewRecoveryKey(nil)
	b := Binding{Tenant: "acme", DeviceID: "dev-1", Volume: "0b9f5f7e-2c1e-4a8e-9d7e-3a1b2c3d4e5f"}
	sealed, err := Seal(priv.Public(), b, k)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(sealed, k.String()) {
		t.Fatal("the sealed text contains the key")
	}
	got, err := priv.Open(sealed, b)
	if err != nil || !got.Equal(k) {
		t.Fatalf("Open = %v, %v", got, err)
	}
	again, err := ParsePrivateKey(priv.Bytes())
	if err != nil || again.Public() != priv.Public() {
		t.Fatalf("ParsePrivateKey: %v", err)
	}
	other, _ := GenerateKey()
	raw, _ := base64.RawURLEncoding.DecodeString(strings.TrimPrefix(sealed, SealedPrefix))
	raw[len(raw)-1] ^= 1
	tampered := SealedPrefix + base64.RawURLEncoding.EncodeToString(raw)
	release, _ := SealRelease(priv.Public(), b, k)
	for name, tc := range map[string]struct {
		key    *PrivateKey
		sealed string
		b      Binding
	}{
		"tampered":     {priv, tampered, b},
		"other key":    {other, sealed, b},
		"other tenant": {priv, sealed, Binding{"acme2", b.DeviceID, b.Volume}},
		"other device": {priv, sealed, Binding{b.Tenant, "dev-2", b.Volume}},
		"other volume": {priv, sealed, Binding{b.Tenant, b.DeviceID, "x"}},
		"release":      {priv, release, b},
		"garbage":      {priv, "kse1.!!", b},
		"empty":        {priv, "", b},
	} {
		if _, err := tc.key.Open(tc.sealed, tc.b); !errors.Is(err, ErrEnvelope) {
			t.Errorf("%s: Open = %v, want ErrEnvelope", name, err)
		}
	}
	got, err = priv.OpenRelease(release, b)
	if err != nil || !got.Equal(k) {
		t.Fatalf("OpenRelease = %v, %v", got, err)
	}
	if _, err := ParsePublicKey("x25519:abc"); err == nil {
		t.Error("short public key accepted")
	}
}

func FuzzParseRecoveryKey(f *testing.F) {
	k := RecoveryKey{1, 2, 3}
	f.Add(k.String())
	f.Add("")
	f.Add("123456 123456")
	f.Fuzz(func(t *testing.T, s string) {
		got, err := ParseRecoveryKey(s)
		if err != nil {
			if !errors.Is(err, ErrRecoveryKey) {
				t.Fatalf("error not wrapping ErrRecoveryKey: %v", err)
			}
			return
		}
		again, err := ParseRecoveryKey(got.String())
		if err != nil || !again.Equal(got) {
			t.Fatalf("%q parsed but its canonical form %q does not round-trip", s, got.String())
		}
	})
}

func FuzzOpen(f *testing.F) {
	priv, _ := GenerateKey()
	b := Binding{"t", "d", "v"}
	s, _ := Seal(priv.Public(), b, RecoveryKey{})
	f.Add(s)
	f.Add("kse1.")
	f.Fuzz(func(t *testing.T, s string) {
		k, err := priv.Open(s, b)
		if err == nil && !bytes.Equal(k[:], make([]byte, 16)) {
			t.Fatalf("%q opened to a key nobody sealed", s)
		}
		if err != nil && !errors.Is(err, ErrEnvelope) {
			t.Fatalf("error not wrapping ErrEnvelope: %v", err)
		}
	})
}
