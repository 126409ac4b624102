package sign

import (
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"strings"
	"testing"

	"golang.org/x/crypto/scrypt"
)

func testKey(t testing.TB) *SecretKey {
	t.Helper()
	k, err := GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func TestSignVerify(t *testing.T) {
	k := testKey(t)
	msg := []byte("kiwistack_0.1.0_amd64.deb contents")
	s, err := Sign(k, bytes.NewReader(msg), "timestamp:1\tfile:x.deb")
	if err != nil {
		t.Fatal(err)
	}
	text, _ := s.MarshalText()
	parsed, err := ParseSignature(text)
	if err != nil {
		t.Fatal(err)
	}
	if err := Verify(k.Public(), parsed, bytes.NewReader(msg)); err != nil {
		t.Fatalf("Verify: %v", err)
	}
	pubText, _ := k.Public().MarshalText()
	pub, err := ParsePublicKey(pubText)
	if err != nil || pub.String() != k.Public().String() {
		t.Fatalf("public key round trip: %v, %s", err, pub)
	}
	if pub2, err := ParsePublicKey([]byte(k.Public().String())); err != nil || pub2.ID != k.ID {
		t.Fatalf("public key from its base64 line: %v", err)
	}
	skText, _ := k.MarshalText()
	sk, err := ParseSecretKey(skText, nil)
	if err != nil || !sk.Key.Equal(k.Key) || sk.ID != k.ID {
		t.Fatalf("secret key round trip: %v", err)
	}

	other := testKey(t)
	tamperedComment := *parsed
	tamperedComment.TrustedComment = "timestamp:2\tfile:x.deb"
	forged := *parsed
	forged.KeyID = other.ID
	for _, tc := range []struct {
		name string
		pub  PublicKey
		sig  *Signature
		msg  []byte
		want error
	}{
		{"tampered file", k.Public(), parsed, append([]byte{}, append(msg, '!')...), ErrBadSignature},
		{"wrong key", other.Public(), parsed, msg, ErrWrongKey},
		{"wrong key with its id", other.Public(), &forged, msg, ErrBadSignature},
		{"changed trusted comment", k.Public(), &tamperedComment, msg, ErrBadSignature},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := Verify(tc.pub, tc.sig, bytes.NewReader(tc.msg))
			if !errors.Is(err, tc.want) {
				t.Fatalf("Verify = %v, want %v", err, tc.want)
			}
		})
	}
}

func TestParseSignatureRefuses(t *testing.T) {
	k := testKey(t)
	s, _ := Sign(k, strings.NewReader("x"), "c")
	good, _ := s.MarshalText()
	lines := strings.Split(string(good), "\n")
	for _, tc := range []struct{ name, text string }{
		{"empty", ""},
		{"garbage", "hello world\n"},
		{"truncated to two lines", strings.Join(lines[:2], "\n")},
		{"truncated base64", lines[0] + "\n" + lines[1][:40] + "\n" + lines[2] + "\n" + lines[3]},
		{"truncated global signature", strings.Join(lines[:3], "\n") + "\n" + lines[3][:20]},
		{"no trusted comment", lines[0] + "\n" + lines[1] + "\n" + "comment: x\n" + lines[3]},
		{"unknown algorithm", lines[0] + "\nRVg" + lines[1][3:] + "\n" + lines[2] + "\n" + lines[3]},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := ParseSignature([]byte(tc.text)); !errors.Is(err, ErrMalformed) {
				t.Fatalf("ParseSignature = %v, want ErrMalformed", err)
			}
		})
	}
	if _, err := ParsePublicKey([]byte("untrusted comment: x\nRWQ=\n")); !errors.Is(err, ErrMalformed) {
		t.Errorf("ParsePublicKey of a short key = %v", err)
	}
}

func TestKeyIDString(t *testing.T) {
	id := KeyID{0x87, 0x1B, 0x5F, 0x7A, 0xE2, 0xC0, 0x04, 0xDF}
	if got := id.String(); got != "DF04C0E27A5F1B87" {
		t.Errorf("KeyID.String = %s", got)
	}
}

// TestScryptParams checks libsodium's parameter choice for minisign's
// defaults (opslimit 2^25, memlimit 2^30): N=2^20, r=8, p=1.
func TestScryptParams(t *testing.T) {
	logN, r, p, err := scryptParams(1<<25, 1<<30)
	if err != nil || logN != 20 || r != 8 || p != 1 {
		t.Errorf("scryptParams = %d %d %d %v", logN, r, p, err)
	}
	if _, _, _, err := scryptParams(1<<40, 1<<40); err == nil {
		t.Error("scryptParams accepted limits needing terabytes")
	}
}

// TestEncryptedSecretKey decrypts a key encrypted as minisign does, with
// cheap scrypt limits (TestMinisignVerifiedByUs reads one minisign wrote).
func TestEncryptedSecretKey(t *testing.T) {
	k := testKey(t)
	plain, _ := k.MarshalText()
	raw, _ := base64.StdEncoding.DecodeString(splitLines(plain)[1])
	copy(raw[2:4], "Sc")
	rand.Read(raw[6:38])
	binary.LittleEndian.PutUint64(raw[38:46], 524288)
	binary.LittleEndian.PutUint64(raw[46:54], 16777216)
	logN, r, p, _ := scryptParams(524288, 16777216)
	stream, err := scrypt.Key([]byte("pw"), raw[6:38], 1<<logN, r, p, len(raw[54:]))
	if err != nil {
		t.Fatal(err)
	}
	copy(raw[54+8+64:], k.checksum())
	for i := range raw[54:] {
		raw[54+i] ^= stream[i]
	}
	enc := []byte("untrusted comment: x\n" + base64.StdEncoding.EncodeToString(raw) + "\n")
	if got, err := ParseSecretKey(enc, []byte("pw")); err != nil || !got.Key.Equal(k.Key) {
		t.Fatalf("right password: %v", err)
	}
	for _, pw := range []string{"", "wrong"} {
		if _, err := ParseSecretKey(enc, []byte(pw)); !errors.Is(err, ErrPassword) {
			t.Errorf("password %q: %v, want ErrPassword", pw, err)
		}
	}
}

func FuzzParseSignature(f *testing.F) {
	k := testKey(f)
	s, _ := Sign(k, strings.NewReader("x"), "timestamp:1")
	good, _ := s.MarshalText()
	f.Add(good)
	f.Add([]byte("untrusted comment: \n\ntrusted comment: \n\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		s, err := ParseSignature(b)
		if err != nil {
			return
		}
		out, _ := s.MarshalText()
		again, err := ParseSignature(out)
		if err != nil || *again != *s {
			t.Fatalf("re-parse of %q: %v", out, err)
		}
		_ = Verify(k.Public(), s, strings.NewReader("x"))
	})
}

func FuzzParsePublicKey(f *testing.F) {
	pub, _ := testKey(f).Public().MarshalText()
	f.Add(pub)
	f.Add([]byte("RWQ"))
	f.Fuzz(func(t *testing.T, b []byte) {
		p, err := ParsePublicKey(b)
		if err != nil {
			return
		}
		again, err := ParsePublicKey([]byte(p.String()))
		if err != nil || again.String() != p.String() {
			t.Fatalf("re-parse of %s: %v", p, err)
		}
	})
}

func FuzzParseSecretKey(f *testing.F) {
	sk, _ := testKey(f).MarshalText()
	f.Add(sk)
	f.Fuzz(func(t *testing.T, b []byte) {
		// No password: an encrypted key is refused before any scrypt work.
		_, _ = ParseSecretKey(b, nil)
	})
}
