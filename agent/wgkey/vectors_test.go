package wgkey

import (
	"bytes"
	"crypto/ecdh"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"flag"
	"math/big"
	"os"
	"path/filepath"
	"slices"
	"testing"
)

var update = flag.Bool("update", false, "rewrite testdata/vectors.json from the independent computation")

// vector is one entry of testdata/vectors.json.
type vector struct {
	Name       string `json:"name"`
	KeyType    string `json:"key_type"`   // "p256" (Secret is D) or "ed25519" (Secret is the seed)
	Secret     string `json:"secret_hex"` // 32 bytes, hex
	Tenant     string `json:"tenant"`
	DeviceID   string `json:"device_id"`
	Version    int    `json:"version"`
	PrivateKey string `json:"private_key"` // base64, as wg shows it
	PublicKey  string `json:"public_key"`  // base64, as wg shows it
	URI        string `json:"uri"`         // the certificate SAN URI
}

// vectorInputs are the inputs that -update computes vectors for.
var vectorInputs = []vector{
	// D of the P-256 key in RFC 6979, appendix A.2.5.
	{Name: "p256-rfc6979", KeyType: "p256", Secret: "c9afa9d845ba75166b5c215767b1d6934e50c3db36e89b127b8a622b120f6721", Tenant: "acme", DeviceID: "dev-0001"},
	{Name: "p256-rfc6979-other-device", KeyType: "p256", Secret: "c9afa9d845ba75166b5c215767b1d6934e50c3db36e89b127b8a622b120f6721", Tenant: "acme", DeviceID: "dev-0002"},
	{Name: "p256-rfc6979-other-tenant", KeyType: "p256", Secret: "c9afa9d845ba75166b5c215767b1d6934e50c3db36e89b127b8a622b120f6721", Tenant: "globex", DeviceID: "dev-0001"},
	{Name: "p256-one", KeyType: "p256", Secret: "0000000000000000000000000000000000000000000000000000000000000001", Tenant: "t", DeviceID: "1"},
	{Name: "p256-n-minus-one", KeyType: "p256", Secret: "ffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632550", Tenant: "kiwi-lab", DeviceID: "0b9c3f4e-6a55-4c1e-9a43-1f2d0c8e7a21"},
	{Name: "p256-utf8-names", KeyType: "p256", Secret: "0f1e2d3c4b5a69788796a5b4c3d2e1f00112233445566778899aabbccddeeff0", Tenant: "müller-gmbh", DeviceID: "laptop-ä"},
	// Seed of test 1 in RFC 8032, section 7.1; same bytes as no P-256 vector.
	{Name: "ed25519-rfc8032", KeyType: "ed25519", Secret: "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60", Tenant: "acme", DeviceID: "dev-0001"},
	// The same 32 bytes read as a P-256 scalar and as an Ed25519 seed.
	{Name: "p256-same-bytes-as-ed25519", KeyType: "p256", Secret: "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60", Tenant: "acme", DeviceID: "dev-0001"},
}

const vectorsPath = "testdata/vectors.json"

// TestVectors checks Derive against testdata/vectors.json, and the vectors
// against an independent computation (HKDF by hand over crypto/hmac as in
// RFC 5869, X25519 as the RFC 7748 ladder over math/big), so that the
// vectors are not a copy of whatever Derive returns.
func TestVectors(t *testing.T) {
	if *update {
		var out []vector
		for _, in := range vectorInputs {
			v := in
			v.Version = 1
			v.PrivateKey, v.PublicKey = independent(t, v)
			raw, _ := base64.StdEncoding.DecodeString(v.PublicKey)
			v.URI = "urn:kiwistack:wg:" + base64.RawURLEncoding.EncodeToString(raw)
			out = append(out, v)
		}
		b, err := json.MarshalIndent(out, "", "  ")
		if err != nil {
			t.Fatal(err)
		}
		if err := os.MkdirAll(filepath.Dir(vectorsPath), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(vectorsPath, append(b, '\n'), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	b, err := os.ReadFile(vectorsPath)
	if err != nil {
		t.Fatal(err)
	}
	var vs []vector
	if err := json.Unmarshal(b, &vs); err != nil {
		t.Fatal(err)
	}
	if len(vs) < 6 {
		t.Fatalf("only %d vectors in %s", len(vs), vectorsPath)
	}
	for _, v := range vs {
		t.Run(v.Name, func(t *testing.T) {
			priv, pub := independent(t, v)
			if priv != v.PrivateKey || pub != v.PublicKey {
				t.Fatalf("independent computation gives %s / %s, vector says %s / %s", priv, pub, v.PrivateKey, v.PublicKey)
			}
			for _, dk := range deviceKeys(t, v) {
				k, err := DeriveVersion(v.Version, dk, v.Tenant, v.DeviceID)
				if err != nil {
					t.Fatalf("%T: %v", dk, err)
				}
				if k.Version != v.Version || k.PrivateKey != v.PrivateKey || k.PublicKey != v.PublicKey {
					t.Errorf("%T: Derive = v%d %s / %s, want v%d %s / %s", dk, k.Version, k.PrivateKey, k.PublicKey, v.Version, v.PrivateKey, v.PublicKey)
				}
				uri, err := k.URI()
				if err != nil || uri != v.URI {
					t.Errorf("%T: URI = %q, %v; want %q", dk, uri, err, v.URI)
				}
			}
		})
	}
}

// deviceKeys returns every accepted form of the vector's device key.
func deviceKeys(t *testing.T, v vector) []any {
	t.Helper()
	secret, err := hex.DecodeString(v.Secret)
	if err != nil {
		t.Fatal(err)
	}
	switch v.KeyType {
	case "p256":
		e, err := ecdsa.ParseRawPrivateKey(elliptic.P256(), secret)
		if err != nil {
			t.Fatal(err)
		}
		x, err := ecdh.P256().NewPrivateKey(secret)
		if err != nil {
			t.Fatal(err)
		}
		return []any{e, x}
	case "ed25519":
		k := ed25519.NewKeyFromSeed(secret)
		return []any{k, &k}
	}
	t.Fatalf("unknown key type %q", v.KeyType)
	return nil
}

// independent computes a vector's key pair from its inputs without using
// the package's code, crypto/hkdf or crypto/ecdh.
func independent(t *testing.T, v vector) (priv, pub string) {
	t.Helper()
	if v.Version != 1 {
		t.Fatalf("no independent computation for version %d", v.Version)
	}
	ikm, err := hex.DecodeString(v.Secret)
	if err != nil || len(ikm) != 32 {
		t.Fatalf("secret %q: %v", v.Secret, err)
	}
	var info []byte
	for _, f := range []string{v.KeyType, v.Tenant, v.DeviceID} {
		info = append(info, byte(len(f)>>8), byte(len(f)))
		info = append(info, f...)
	}
	// RFC 5869: PRK = HMAC(salt, IKM); T(1) = HMAC(PRK, info || 0x01).
	extract := hmac.New(sha256.New, []byte("kiwistack wireguard key v1"))
	extract.Write(ikm)
	prk := extract.Sum(nil)
	expand := hmac.New(sha256.New, prk)
	expand.Write(info)
	expand.Write([]byte{1})
	k := expand.Sum(nil)
	k[0] &= 248
	k[31] &= 127
	k[31] |= 64
	return base64.StdEncoding.EncodeToString(k), base64.StdEncoding.EncodeToString(ladder(k, 9))
}

// ladder is X25519(k, u) per RFC 7748, section 5, with math/big: slow,
// variable-time, and only for checking.
func ladder(k []byte, u int64) []byte {
	p := new(big.Int).Sub(new(big.Int).Lsh(big.NewInt(1), 255), big.NewInt(19))
	a24 := big.NewInt(121665)
	le := slices.Clone(k)
	slices.Reverse(le)
	scalar := new(big.Int).SetBytes(le)

	mod := func(x *big.Int) *big.Int { return x.Mod(x, p) }
	mul := func(a, b *big.Int) *big.Int { return mod(new(big.Int).Mul(a, b)) }
	add := func(a, b *big.Int) *big.Int { return mod(new(big.Int).Add(a, b)) }
	sub := func(a, b *big.Int) *big.Int { return mod(new(big.Int).Sub(a, b)) }

	x1 := big.NewInt(u)
	x2, z2 := big.NewInt(1), big.NewInt(0)
	x3, z3 := big.NewInt(u), big.NewInt(1)
	swap := uint(0)
	for i := 254; i >= 0; i-- {
		bit := scalar.Bit(i)
		if swap^bit == 1 {
			x2, x3 = x3, x2
			z2, z3 = z3, z2
		}
		swap = bit
		a := add(x2, z2)
		aa := mul(a, a)
		b := sub(x2, z2)
		bb := mul(b, b)
		e := sub(aa, bb)
		c := add(x3, z3)
		d := sub(x3, z3)
		da := mul(d, a)
		cb := mul(c, b)
		s := add(da, cb)
		x3 = mul(s, s)
		m := sub(da, cb)
		z3 = mul(x1, mul(m, m))
		x2 = mul(aa, bb)
		z2 = mul(e, add(aa, mul(a24, e)))
	}
	if swap == 1 {
		x2, z2 = x3, z3
	}
	r := mul(x2, new(big.Int).Exp(z2, new(big.Int).Sub(p, big.NewInt(2)), p))
	out := r.FillBytes(make([]byte, 32))
	slices.Reverse(out)
	return out
}

// TestLadder checks the checking ladder itself against RFC 7748, section
// 6.1 (Alice's key pair).
func TestLadder(t *testing.T) {
	priv, _ := hex.DecodeString("77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a")
	want, _ := hex.DecodeString("8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a")
	k := slices.Clone(priv)
	k[0] &= 248
	k[31] &= 127
	k[31] |= 64
	if got := ladder(k, 9); !bytes.Equal(got, want) {
		t.Fatalf("ladder = %x, want %x", got, want)
	}
}
