package protocol

import (
	"context"
	"crypto/elliptic"
	"crypto/x509"
	"errors"
	"strings"
	"testing"
	"time"
)

func FuzzParse(f *testing.F) {
	p := newPKI(f, "acme")
	k := mustKey(f, elliptic.P256())
	leaf := p.admin(f, &k.PublicKey, now.Add(time.Hour), []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth})
	good, err := Sign(context.Background(), asn1Signer(k), []*x509.Certificate{leaf}, testStatement(f))
	if err != nil {
		f.Fatal(err)
	}
	parts := strings.Split(good, ".")
	f.Add(good)
	f.Add(parts[0] + "." + parts[1] + ".")
	f.Add("e30.e30.AA")
	f.Add("..")
	f.Fuzz(func(t *testing.T, compact string) {
		s, err := Parse(compact)
		if err != nil {
			if Reason(err) == ReasonUnknown {
				t.Fatalf("untyped error: %v", err)
			}
			return
		}
		st, cert, err := s.Verify(p.roots, p.inters, now)
		if err != nil {
			if Reason(err) == ReasonUnknown {
				t.Fatalf("untyped error: %v", err)
			}
			return
		}
		// Anything that verifies must be signed by our leaf and be valid.
		if !cert.Equal(leaf) {
			t.Fatalf("verified with a foreign certificate %s", cert.Subject)
		}
		if err := st.Validate(); err != nil {
			t.Fatalf("verified an invalid statement: %v", err)
		}
	})
}

func FuzzDecodeJSON(f *testing.F) {
	f.Add(validEnrollBody())
	f.Add(`{"statement":"a","statement":"b"}`)
	f.Add(`{"a":[[[[{}]]]]}`)
	f.Add(`{} {}`)
	f.Fuzz(func(t *testing.T, body string) {
		var r EnrollRequest
		err := DecodeJSON(strings.NewReader(body), MaxRequestBytes, &r)
		if err != nil {
			if Reason(err) != ReasonMalformed {
				t.Fatalf("error is not ErrMalformed: %v", err)
			}
			return
		}
		if err := r.Validate(); err != nil {
			t.Fatalf("accepted an invalid request: %v", err)
		}
		var again EnrollRequest
		if err := unmarshalStrict([]byte(body), &again); err != nil || again != r {
			t.Fatalf("decoding is not deterministic: %v", err)
		}
	})
}

// BenchmarkVerifyStatement measures Parse plus Verify of one enroll_device
// statement (issue 3 target: at least 2,000 per second on one core). The API
// trusts the tenant intermediate as the anchor (one certificate signature to
// check); "root-anchor" adds the intermediate-to-root link.
func BenchmarkVerifyStatement(b *testing.B) {
	p := newPKI(b, "acme")
	k := mustKey(b, elliptic.P256())
	leaf := p.admin(b, &k.PublicKey, now.Add(time.Hour), []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth})
	good, err := Sign(context.Background(), asn1Signer(k), []*x509.Certificate{leaf}, testStatement(b))
	if err != nil {
		b.Fatal(err)
	}
	tenantAnchor := x509.NewCertPool()
	tenantAnchor.AddCert(p.inter)
	for _, bc := range []struct {
		name          string
		roots, inters *x509.CertPool
	}{
		{"intermediate-anchor", tenantAnchor, nil},
		{"root-anchor", p.roots, p.inters},
	} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				s, err := Parse(good)
				if err != nil {
					b.Fatal(err)
				}
				if _, _, err := s.Verify(bc.roots, bc.inters, now); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// FuzzParseReadAuthorization: any header value parses or is refused with
// ErrMalformed, never panics, and what parses re-encodes to itself.
func FuzzParseReadAuthorization(f *testing.F) {
	f.Add(ReadAuthorization("op-abc", 1700000000, make([]byte, 64)))
	f.Add("KiwiStack-Read op.1.x")
	f.Add("Bearer token")
	f.Add("KiwiStack-Read ..")
	f.Fuzz(func(t *testing.T, h string) {
		id, ts, sig, err := ParseReadAuthorization(h)
		if err != nil {
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("error %v does not wrap ErrMalformed", err)
			}
			return
		}
		if got := ReadAuthorization(id, ts, sig); got != h {
			t.Fatalf("%q parsed and re-encoded as %q", h, got)
		}
	})
}
