package protocol

import (
	"bytes"
	"context"
	"crypto/elliptic"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"strings"
	"testing"
	"time"
)

func TestCanonical(t *testing.T) {
	nonce := base64.RawURLEncoding.EncodeToString(make([]byte, 16))
	op := Operation{ID: "remote_wipe", Tenant: "acme-corp", Nonce: nonce, Params: map[string]string{
		"zeta":   "last",
		"device": "d-1",
		"note":   "quote\" back\\ tab\t nl\n ctl\x01 <&> \u2028 é",
	}}
	got, err := op.Canonical()
	if err != nil {
		t.Fatal(err)
	}
	want := `{"id":"remote_wipe","nonce":"` + nonce + `","params":{"device":"d-1","note":"quote\" back\\ tab\t nl\n ctl\u0001 <&> ` + "\u2028 é" + `","zeta":"last"},"tenant":"acme-corp"}`
	if string(got) != want {
		t.Fatalf("canonical =\n%s\nwant\n%s", got, want)
	}
	// Map order must not matter; any change of a field must change the digest.
	d1, err := op.Digest()
	if err != nil {
		t.Fatal(err)
	}
	if len(d1) != digestB64Len {
		t.Fatalf("digest %q has %d characters", d1, len(d1))
	}
	for i := 0; i < 20; i++ {
		if d, _ := op.Digest(); d != d1 {
			t.Fatal("digest depends on map order")
		}
	}
	variants := []Operation{
		{ID: "remote_lock", Tenant: op.Tenant, Nonce: nonce, Params: op.Params},
		{ID: op.ID, Tenant: "acme", Nonce: nonce, Params: op.Params},
		{ID: op.ID, Tenant: op.Tenant, Nonce: base64.RawURLEncoding.EncodeToString(bytes.Repeat([]byte{1}, 16)), Params: op.Params},
		{ID: op.ID, Tenant: op.Tenant, Nonce: nonce, Params: map[string]string{"device": "d-1"}},
		{ID: op.ID, Tenant: op.Tenant, Nonce: nonce},
	}
	for i, v := range variants {
		d, err := v.Digest()
		if err != nil {
			t.Fatal(err)
		}
		if d == d1 {
			t.Errorf("variant %d has the same digest", i)
		}
	}
	empty, err := Operation{ID: "read_audit", Tenant: "acme", Nonce: nonce}.Canonical()
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(empty), `"params":{}`) {
		t.Fatalf("empty params: %s", empty)
	}
	for _, bad := range []Operation{
		{ID: "Remote_Wipe", Tenant: "acme", Nonce: nonce},
		{ID: "x", Tenant: "Acme", Nonce: nonce},
		{ID: "x", Tenant: "acme", Nonce: "short"},
		{ID: "x", Tenant: "acme", Nonce: nonce + "="},
		{ID: "x", Tenant: "acme", Nonce: nonce, Params: map[string]string{"A": "b"}},
		{ID: "x", Tenant: "acme", Nonce: nonce, Params: map[string]string{"a": "\xff"}},
		{ID: "x", Tenant: "acme", Nonce: nonce, Params: map[string]string{"a": strings.Repeat("v", maxValueLen+1)}},
	} {
		if _, err := bad.Digest(); !errors.Is(err, ErrStatement) {
			t.Errorf("%+v: err = %v, want ErrStatement", bad, err)
		}
	}
}

func TestGeneralOperationRoundTrip(t *testing.T) {
	p := newPKI(t, "acme")
	k := mustKey(t, elliptic.P256())
	leaf := p.admin(t, &k.PublicKey, now.Add(time.Hour), []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth})
	s := &Statement{Operation: "remote_wipe", Tenant: "acme", Timestamp: FormatTimestamp(now), YubiKeySerial: 7,
		Nonce: base64.RawURLEncoding.EncodeToString(make([]byte, 16)), Params: map[string]string{"device": "d-1"}}
	var err error
	if s.Digest, err = s.CanonicalOperation().Digest(); err != nil {
		t.Fatal(err)
	}
	compact, err := Sign(context.Background(), asn1Signer(k), []*x509.Certificate{leaf}, s)
	if err != nil {
		t.Fatal(err)
	}
	signed, err := Parse(compact)
	if err != nil {
		t.Fatal(err)
	}
	got, _, err := signed.Verify(p.roots, p.inters, now)
	if err != nil {
		t.Fatal(err)
	}
	if got.Params["device"] != "d-1" {
		t.Fatalf("params = %v", got.Params)
	}
	s.HardwareFingerprint = "hw"
	if err := s.Validate(); !errors.Is(err, ErrStatement) {
		t.Fatalf("device field on remote_wipe: err = %v", err)
	}
}

func validEnrollBody() string {
	return `{"statement":"a.b.c","csr":"-----BEGIN CERTIFICATE REQUEST-----\nAAAA\n-----END CERTIFICATE REQUEST-----\n"}`
}

func TestDecodeJSON(t *testing.T) {
	var ok EnrollRequest
	if err := DecodeJSON(strings.NewReader(validEnrollBody()), MaxRequestBytes, &ok); err != nil {
		t.Fatal(err)
	}
	if ok.Statement != "a.b.c" {
		t.Fatalf("statement = %q", ok.Statement)
	}
	nonce := base64.RawURLEncoding.EncodeToString(make([]byte, 16))
	var ch Challenge
	chBody := `{"operation":"enroll_device","tenant":"acme","nonce":"` + nonce + `","digest":"` + strings.Repeat("A", 43) + `","required_roles":["sysadmin"],"expires_at":"2026-11-28T12:05:00Z"}`
	if err := DecodeJSON(strings.NewReader(chBody), MaxResponseBytes, &ch); err != nil {
		t.Fatal(err)
	}
	var cr ChallengeRequest
	crBody := `{"operation":"enroll_device","tenant":"acme","params":{"hardware_fingerprint":"hw","device_key_sha256":"` + strings.Repeat("a", 64) + `","wireguard_public_key":"k"}}`
	if err := DecodeJSON(strings.NewReader(crBody), MaxRequestBytes, &cr); err != nil {
		t.Fatal(err)
	}
	var resp EnrollResponse
	if err := DecodeJSON(strings.NewReader(`{"device_id":"d","certificate":"c","chain":[],"root":"r","config":{"version":1,"tenant":"acme","device_id":"d","ca_url":"u","root_fingerprint":"f","api_url":"a"}}`), MaxResponseBytes, &resp); err != nil {
		t.Fatal(err)
	}

	for _, tc := range []struct {
		name, body string
		limit      int64
		v          any
		msg        string
	}{
		{"unknown field", `{"statement":"a.b.c","csr":"x","admin":true}`, MaxRequestBytes, &EnrollRequest{}, "unknown field"},
		{"duplicate field", `{"statement":"a.b.c","statement":"x.y.z","csr":"x"}`, MaxRequestBytes, &EnrollRequest{}, "duplicate JSON key"},
		{"trailing data", validEnrollBody() + `{}`, MaxRequestBytes, &EnrollRequest{}, "trailing data"},
		{"trailing garbage", validEnrollBody() + `x`, MaxRequestBytes, &EnrollRequest{}, "trailing data"},
		{"oversize", `{"statement":"` + strings.Repeat("a", 200) + `"}`, 100, &EnrollRequest{}, "larger than 100 bytes"},
		{"empty", "  ", MaxRequestBytes, &EnrollRequest{}, "empty body"},
		{"not JSON", `statement=a`, MaxRequestBytes, &EnrollRequest{}, "invalid JSON"},
		{"truncated", `{"statement":"a.b.c"`, MaxRequestBytes, &EnrollRequest{}, "invalid JSON"},
		{"wrong type", `{"statement":1,"csr":"x"}`, MaxRequestBytes, &EnrollRequest{}, "cannot unmarshal"},
		{"array", `[]`, MaxRequestBytes, &EnrollRequest{}, "cannot unmarshal"},
		{"invalid UTF-8", "{\"statement\":\"\xff\"}", MaxRequestBytes, &EnrollRequest{}, "UTF-8"},
		{"missing statement", `{"csr":"x"}`, MaxRequestBytes, &EnrollRequest{}, "statement missing"},
		{"csr not PEM", `{"statement":"a.b.c","csr":"x"}`, MaxRequestBytes, &EnrollRequest{}, "PEM CERTIFICATE REQUEST"},
		{"enroll missing param", `{"operation":"enroll_device","tenant":"acme","params":{}}`, MaxRequestBytes, &ChallengeRequest{}, "needs parameter"},
		{"bad operation id", `{"operation":"Enroll","tenant":"acme","params":{}}`, MaxRequestBytes, &ChallengeRequest{}, "operation id"},
		{"challenge without roles", strings.Replace(chBody, `["sysadmin"]`, `[]`, 1), MaxResponseBytes, &Challenge{}, "no required roles"},
		{"challenge bad expiry", strings.Replace(chBody, `2026-11-28T12:05:00Z`, `tomorrow`, 1), MaxResponseBytes, &Challenge{}, "expires_at"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := DecodeJSON(strings.NewReader(tc.body), tc.limit, tc.v)
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("err = %v, want ErrMalformed", err)
			}
			if !strings.Contains(err.Error(), tc.msg) {
				t.Fatalf("err = %v, want it to mention %q", err, tc.msg)
			}
		})
	}
}

func TestReason(t *testing.T) {
	for err, want := range map[error]string{
		ErrMalformed: ReasonMalformed, ErrAlgorithm: ReasonAlgorithm, ErrSignature: ReasonSignature,
		ErrChain: ReasonChain, ErrStatement: ReasonStatement, errors.New("x"): ReasonUnknown,
	} {
		if got := Reason(errors.Join(errors.New("ctx"), err)); got != want {
			t.Errorf("Reason(%v) = %s, want %s", err, got, want)
		}
	}
}

func TestDeviceID(t *testing.T) {
	h := DeviceKeyHash([]byte("spki"))
	if got, want := DeviceID(h), "d-"+h[:32]; got != want {
		t.Errorf("DeviceID = %q, want %q", got, want)
	}
	if got := DeviceID("short"); got != "" {
		t.Errorf("DeviceID(short) = %q, want empty", got)
	}
}
