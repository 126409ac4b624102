package protocol

import (
	"errors"
	"strings"
	"testing"
)

func pemBlock(typ string) string {
	return "-----BEGIN " + typ + "-----\nAAAA\n-----END " + typ + "-----\n"
}

func validAdminBody() string {
	return `{"serial":12345679,"admin":"John Doe","role":"sysadmin","csr":` + quote(pemBlock("CERTIFICATE REQUEST")) +
		`,"attestation":` + quote(pemBlock("CERTIFICATE")) + `,"attestation_intermediate":` + quote(pemBlock("CERTIFICATE")) + `,"lifetime":"8760h"}`
}

func quote(s string) string { return `"` + strings.ReplaceAll(s, "\n", `\n`) + `"` }

func TestAdminCertificateRequestValidate(t *testing.T) {
	var ok AdminCertificateRequest
	if err := DecodeJSON(strings.NewReader(validAdminBody()), MaxRequestBytes, &ok); err != nil {
		t.Fatal(err)
	}
	if d, _ := ok.ParseLifetime(); ok.Serial != 12345679 || d.Hours() != 8760 {
		t.Fatalf("decoded %+v", ok)
	}
	for name, change := range map[string]func(*AdminCertificateRequest){
		"no serial":             func(r *AdminCertificateRequest) { r.Serial = 0 },
		"no admin":              func(r *AdminCertificateRequest) { r.Admin = "" },
		"no role":               func(r *AdminCertificateRequest) { r.Role = "" },
		"csr not a request":     func(r *AdminCertificateRequest) { r.CSR = pemBlock("CERTIFICATE") },
		"two attestations":      func(r *AdminCertificateRequest) { r.Attestation += pemBlock("CERTIFICATE") },
		"no intermediate":       func(r *AdminCertificateRequest) { r.AttestationIntermediate = "" },
		"bad lifetime":          func(r *AdminCertificateRequest) { r.Lifetime = "a year" },
		"negative lifetime":     func(r *AdminCertificateRequest) { r.Lifetime = "-1h" },
		"attestation not a PEM": func(r *AdminCertificateRequest) { r.Attestation = "AAAA" },
	} {
		r := ok
		change(&r)
		if err := r.Validate(); !errors.Is(err, ErrMalformed) {
			t.Errorf("%s: Validate = %v, want ErrMalformed", name, err)
		}
	}
}

func TestValidateAdminSubject(t *testing.T) {
	for _, tc := range []struct {
		admin, role, tenant string
		ok                  bool
	}{
		{"Marie Schmidt", "founder", "acme-corp", true},
		{"Anne Lefèvre", "office-mgr", "acme-corp", true},
		{"", "sysadmin", "acme-corp", false},
		{" John", "sysadmin", "acme-corp", false},
		{"John\nDoe", "sysadmin", "acme-corp", false},
		{"John", "Sysadmin", "acme-corp", false},
		{"John", "sysadmin", "acme/corp", false},
		{strings.Repeat("x", 65), "sysadmin", "acme", false},
		{"bad\xffutf8", "sysadmin", "acme", false},
	} {
		if err := ValidateAdminSubject(tc.admin, tc.role, tc.tenant); (err == nil) != tc.ok {
			t.Errorf("ValidateAdminSubject(%q, %q, %q) = %v, want ok=%v", tc.admin, tc.role, tc.tenant, err, tc.ok)
		}
	}
}

func FuzzDecodeAdminCertificateRequest(f *testing.F) {
	f.Add(validAdminBody())
	f.Add(`{"serial":1,"serial":2}`)
	f.Add(`{"serial":-1,"admin":"a","role":"b","csr":"","attestation":"","attestation_intermediate":""}`)
	f.Add(`{"serial":4294967296}`)
	f.Fuzz(func(t *testing.T, body string) {
		var r AdminCertificateRequest
		if err := DecodeJSON(strings.NewReader(body), MaxRequestBytes, &r); err != nil {
			if Reason(err) != ReasonMalformed {
				t.Fatalf("error is not ErrMalformed: %v", err)
			}
			return
		}
		if err := r.Validate(); err != nil {
			t.Fatalf("accepted an invalid request: %v", err)
		}
		if _, err := r.ParseLifetime(); err != nil {
			t.Fatalf("accepted a bad lifetime: %v", err)
		}
	})
}
