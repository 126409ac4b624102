package renew

import (
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"math/big"
	"net/http"
	"strings"
	"testing"
	"time"
)

func TestClassifyStatus(t *testing.T) {
	tests := []struct {
		status int
		body   string
		want   error
	}{
		{401, `{"status":401,"message":"certificate 123 has been revoked; re-enroll the device"}`, ErrRevoked},
		{401, `{"status":401,"message":"certificate expired at 2026-01-01T00:00:00Z, more than 168h0m0s ago; re-enroll the device"}`, ErrReEnroll},
		{401, `{"status":401,"message":"The request lacked necessary authorization to be completed."}`, ErrRefused},
		{403, `not json`, ErrRefused},
		{500, `{"status":500,"message":"internal"}`, ErrTransient},
		{502, `<html>bad gateway</html>`, ErrTransient},
		{503, ``, ErrTransient},
		{429, ``, ErrTransient},
		{408, ``, ErrTransient},
		{400, `{"status":400,"message":"bad request"}`, ErrMalformed},
		{404, `not found`, ErrMalformed},
		{302, ``, ErrMalformed},
	}
	for _, tt := range tests {
		err := classifyStatus(tt.status, []byte(tt.body))
		if !errors.Is(err, tt.want) {
			t.Errorf("%d %s: %v, want %v", tt.status, tt.body, err, tt.want)
		}
		if c := ClassOf(err); c.Terminal() != (tt.want == ErrRevoked || tt.want == ErrReEnroll || tt.want == ErrRefused) {
			t.Errorf("%d: class %s terminal = %v", tt.status, c, c.Terminal())
		}
	}
	// The CA's message is untrusted: kept short and printable.
	err := classifyStatus(http.StatusUnauthorized, []byte(`{"message":"a\u001b[31mb`+strings.Repeat("x", 500)+`"}`))
	var e *Error
	if !errors.As(err, &e) || strings.ContainsRune(e.Message, 0x1b) || len([]rune(e.Message)) > 201 {
		t.Errorf("message not sanitised: %q", e.Message)
	}
}

func TestParseRenewResponse(t *testing.T) {
	for _, body := range []string{``, `{}`, `{"certChain":["junk"]}`, `{"crt":"-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n"}`, `[1]`} {
		if _, err := parseRenewResponse([]byte(body)); err == nil {
			t.Errorf("%q parsed", body)
		}
	}
}

func FuzzParseRenewResponse(f *testing.F) {
	f.Add([]byte(`{"certChain":["-----BEGIN CERTIFICATE-----\nMA==\n-----END CERTIFICATE-----\n"]}`))
	f.Add([]byte(`{"crt":"","ca":""}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		chain, err := parseRenewResponse(b)
		if err == nil && len(chain) == 0 {
			t.Fatal("no error and no certificate")
		}
	})
}

// TestRenewalToken checks the hand-written JWT: step-ca's header and claims,
// and an ES256 signature (r||s) by the device key that verifies.
func TestRenewalToken(t *testing.T) {
	key := newKey(t)
	cert := selfSigned(t, key, time.Now().Add(time.Hour))
	c, err := NewClient("https://ca.example:8443/prefix", cert.Leaf, Fingerprint(cert.Leaf), WithRand(rand.Reader))
	if err != nil {
		t.Fatal(err)
	}
	now := time.Unix(1_800_000_000, 0)
	tok, err := c.renewalToken(cert.Leaf, [][]byte{cert.Leaf.Raw}, key, now)
	if err != nil {
		t.Fatal(err)
	}
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		t.Fatalf("token has %d parts", len(parts))
	}
	dec := func(s string) []byte {
		b, err := base64.RawURLEncoding.DecodeString(s)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	var h struct {
		Alg string   `json:"alg"`
		X5c []string `json:"x5cInsecure"`
	}
	var cl map[string]any
	if err := json.Unmarshal(dec(parts[0]), &h); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(dec(parts[1]), &cl); err != nil {
		t.Fatal(err)
	}
	if h.Alg != "ES256" || len(h.X5c) != 2 || h.X5c[0] != base64.StdEncoding.EncodeToString(cert.Leaf.Raw) {
		t.Errorf("header %+v", h)
	}
	if cl["iss"] != "step-ca-client/1.0" || cl["sub"] != "dev-1" || cl["aud"] != "https://ca.example/renew" ||
		cl["iat"] != float64(now.Unix()) || cl["exp"] != float64(now.Add(time.Minute).Unix()) || len(cl["jti"].(string)) != 32 {
		t.Errorf("claims %v", cl)
	}
	sig := dec(parts[2])
	digest := sha256.Sum256([]byte(parts[0] + "." + parts[1]))
	r, s := new(big.Int).SetBytes(sig[:32]), new(big.Int).SetBytes(sig[32:])
	if len(sig) != 64 || !ecdsa.Verify(&key.PublicKey, digest[:], r, s) {
		t.Error("signature does not verify with the device key")
	}
	tok2, _ := c.renewalToken(cert.Leaf, nil, key, now)
	if strings.Split(tok2, ".")[1] == parts[1] {
		t.Error("two tokens share a jti")
	}
}
