package protocol

import (
	"errors"
	"strings"
	"testing"
)

var testToken = NewBootstrapToken([32]byte{1, 2, 3})

const testFP = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

func validBootstrapFile() *BootstrapFile {
	return &BootstrapFile{API: "https://api.acme.example:8443", Tenant: "acme", RootFingerprint: testFP, Token: testToken}
}

func TestBootstrapFileRoundTrip(t *testing.T) {
	want := validBootstrapFile()
	b, err := want.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	got, err := ParseBootstrapFile(b)
	if err != nil || *got != *want {
		t.Fatalf("round trip: %+v, %v\n%s", got, err, b)
	}
}

func TestParseBootstrapFile(t *testing.T) {
	good := "# comment\n---\napi: https://api.acme.example\ntenant: 'acme' # the slug\n\nroot_fingerprint: " + testFP + "\r\ntoken: \"" + testToken + "\"\n"
	if _, err := ParseBootstrapFile([]byte(good)); err != nil {
		t.Fatalf("good file: %v", err)
	}
	lines := func(extra ...string) string {
		base := map[string]string{"api": "https://a.example", "tenant": "acme", "root_fingerprint": testFP, "token": testToken}
		var b strings.Builder
		for _, k := range bootstrapKeys {
			b.WriteString(k + ": " + base[k] + "\n")
		}
		for _, e := range extra {
			b.WriteString(e + "\n")
		}
		return b.String()
	}
	for name, body := range map[string]string{
		"empty":             "",
		"unknown key":       lines("extra: x"),
		"duplicate":         lines("tenant: acme"),
		"missing":           "api: https://a.example\ntenant: acme\n",
		"http":              strings.Replace(lines(), "https://a.example", "http://a.example", 1),
		"bad tenant":        strings.Replace(lines(), "tenant: acme", "tenant: ACME", 1),
		"short token":       strings.Replace(lines(), testToken, "kst1_AAAA", 1),
		"no prefix":         strings.Replace(lines(), testToken, strings.TrimPrefix(testToken, BootstrapTokenPrefix), 1),
		"upper fp":          strings.Replace(lines(), testFP, strings.ToUpper(testFP), 1),
		"indented":          " " + lines(),
		"flow mapping":      "{api: https://a.example}",
		"anchor":            strings.Replace(lines(), "tenant: acme", "tenant: &a acme", 1),
		"no space":          strings.Replace(lines(), "tenant: acme", "tenant:acme", 1),
		"unterminated":      strings.Replace(lines(), "tenant: acme", "tenant: \"acme", 1),
		"escape":            strings.Replace(lines(), "tenant: acme", `tenant: "ac\me"`, 1),
		"text after":        strings.Replace(lines(), "tenant: acme", `tenant: "acme" x`, 1),
		"oversized":         lines("#" + strings.Repeat("x", MaxBootstrapFileBytes)),
		"tab":               strings.Replace(lines(), "tenant: acme", "tenant:\tacme", 1),
		"list":              lines("- x"),
		"block scalar":      strings.Replace(lines(), "tenant: acme", "tenant: |\n  acme", 1),
		"api with quote":    strings.Replace(lines(), "https://a.example", `'https://a.example/"'`, 1),
		"api with userinfo": strings.Replace(lines(), "https://a.example", "https://u@a.example", 1),
	} {
		t.Run(name, func(t *testing.T) {
			_, err := ParseBootstrapFile([]byte(body))
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("err = %v, want ErrMalformed", err)
			}
			if strings.Contains(err.Error(), strings.TrimPrefix(testToken, BootstrapTokenPrefix)) {
				t.Fatalf("the error shows the token: %v", err)
			}
		})
	}
}

func validClaimBody() string {
	return `{"token":"` + testToken + `","hardware_serial":"PF3ABCDE","hardware_fingerprint":"hw1:00",` +
		`"csr":"-----BEGIN CERTIFICATE REQUEST-----\nAAAA\n-----END CERTIFICATE REQUEST-----\n",` +
		`"wireguard_public_key":"` + strings.Repeat("A", 43) + `="}`
}

func TestClaimRequestValidate(t *testing.T) {
	var r ClaimRequest
	if err := DecodeJSON(strings.NewReader(validClaimBody()), MaxClaimRequestBytes, &r); err != nil {
		t.Fatal(err)
	}
	for name, mut := range map[string]func(*ClaimRequest){
		"token":        func(r *ClaimRequest) { r.Token = "secret" },
		"serial empty": func(r *ClaimRequest) { r.HardwareSerial = "" },
		"serial ctrl":  func(r *ClaimRequest) { r.HardwareSerial = "a\nb" },
		"serial space": func(r *ClaimRequest) { r.HardwareSerial = " a" },
		"fingerprint":  func(r *ClaimRequest) { r.HardwareFingerprint = "" },
		"wireguard":    func(r *ClaimRequest) { r.WireGuardPublicKey = "AAAA" },
		"csr":          func(r *ClaimRequest) { r.CSR = "x" },
		"csr trailer":  func(r *ClaimRequest) { r.CSR += "x" },
	} {
		t.Run(name, func(t *testing.T) {
			c := r
			mut(&c)
			if err := c.Validate(); !errors.Is(err, ErrMalformed) {
				t.Fatalf("err = %v", err)
			}
		})
	}
}

func FuzzParseBootstrapFile(f *testing.F) {
	b, _ := validBootstrapFile().Marshal()
	f.Add(string(b))
	f.Add("api: https://a\ntenant: a\nroot_fingerprint: " + testFP + "\ntoken: " + testToken + " # c\n")
	f.Add("token: 'x'\n")
	f.Add("---\n#\n")
	f.Fuzz(func(t *testing.T, body string) {
		bf, err := ParseBootstrapFile([]byte(body))
		if err != nil {
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("error is not ErrMalformed: %v", err)
			}
			return
		}
		if err := bf.Validate(); err != nil {
			t.Fatalf("accepted an invalid file: %v", err)
		}
		out, err := bf.Marshal()
		if err != nil {
			t.Fatal(err)
		}
		again, err := ParseBootstrapFile(out)
		if err != nil || *again != *bf {
			t.Fatalf("re-rendered file parses differently: %v", err)
		}
	})
}

func FuzzClaimRequest(f *testing.F) {
	f.Add(validClaimBody())
	f.Add(`{"token":"a","token":"b"}`)
	f.Fuzz(func(t *testing.T, body string) {
		var r ClaimRequest
		if err := DecodeJSON(strings.NewReader(body), MaxClaimRequestBytes, &r); err != nil {
			if Reason(err) != ReasonMalformed {
				t.Fatalf("error is not ErrMalformed: %v", err)
			}
			return
		}
		if err := r.Validate(); err != nil {
			t.Fatalf("accepted an invalid request: %v", err)
		}
	})
}
