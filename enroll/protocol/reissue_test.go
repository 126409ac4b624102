package protocol

import (
	"errors"
	"strings"
	"testing"
)

func validReissueBody() string {
	return `{"serial":12345679,"csr":` + quote(pemBlock("CERTIFICATE REQUEST")) +
		`,"attestation":` + quote(pemBlock("CERTIFICATE")) + `,"attestation_intermediate":` + quote(pemBlock("CERTIFICATE")) + `}`
}

func TestAdminReissueRequestValidate(t *testing.T) {
	var ok AdminReissueRequest
	if err := DecodeJSON(strings.NewReader(validReissueBody()), MaxRequestBytes, &ok); err != nil {
		t.Fatal(err)
	}
	if ok.Serial != 12345679 {
		t.Fatalf("decoded %+v", ok)
	}
	for name, change := range map[string]func(*AdminReissueRequest){
		"no serial":             func(r *AdminReissueRequest) { r.Serial = 0 },
		"no csr":                func(r *AdminReissueRequest) { r.CSR = "" },
		"csr not a request":     func(r *AdminReissueRequest) { r.CSR = pemBlock("CERTIFICATE") },
		"two attestations":      func(r *AdminReissueRequest) { r.Attestation += pemBlock("CERTIFICATE") },
		"no intermediate":       func(r *AdminReissueRequest) { r.AttestationIntermediate = "" },
		"attestation not a PEM": func(r *AdminReissueRequest) { r.Attestation = "AAAA" },
	} {
		r := ok
		change(&r)
		if err := r.Validate(); !errors.Is(err, ErrMalformed) {
			t.Errorf("%s: %v, want ErrMalformed", name, err)
		}
	}
	// The subject comes from the roster: a request cannot name one.
	for _, body := range []string{
		strings.Replace(validReissueBody(), `{`, `{"admin":"Mallory",`, 1),
		strings.Replace(validReissueBody(), `{`, `{"role":"founder",`, 1),
		strings.Replace(validReissueBody(), `{`, `{"lifetime":"8760h",`, 1),
	} {
		var r AdminReissueRequest
		if err := DecodeJSON(strings.NewReader(body), MaxRequestBytes, &r); !errors.Is(err, ErrMalformed) {
			t.Errorf("%s: %v, want ErrMalformed", body, err)
		}
	}
}

// FuzzAdminReissueRequest: the decoder never panics, and what it accepts
// has a serial and three single PEM blocks.
func FuzzAdminReissueRequest(f *testing.F) {
	f.Add(validReissueBody())
	f.Add(`{"serial":1,"serial":2}`)
	f.Add(`{"serial":4294967296,"csr":""}`)
	f.Add(`[]`)
	f.Fuzz(func(t *testing.T, body string) {
		var r AdminReissueRequest
		if err := DecodeJSON(strings.NewReader(body), MaxRequestBytes, &r); err != nil {
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("error %v does not wrap ErrMalformed", err)
			}
			return
		}
		if r.Serial == 0 || onePEM(r.CSR, "CERTIFICATE REQUEST") != nil || onePEM(r.Attestation, "CERTIFICATE") != nil ||
			onePEM(r.AttestationIntermediate, "CERTIFICATE") != nil {
			t.Fatalf("accepted %+v", r)
		}
	})
}
