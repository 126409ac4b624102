package api

import (
	"bytes"
	"crypto/x509"
	"encoding/base64"
	"net/http"
	"net/http/httptest"
	"sort"
	"testing"
	"time"

	"github.com/kiwistack/endpoint/enroll/protocol"
)

// FuzzEnrollHandler feeds arbitrary bodies to POST /v1/enrollments: the
// handler never answers 5xx and never creates a device.
func FuzzEnrollHandler(f *testing.F) {
	e := newEnv(f)
	// A well-formed, correctly signed request whose nonce this server never
	// issued: the closest a random body can get to a valid one.
	c := e.begin(f)
	c.stmt.Nonce = base64.RawURLEncoding.EncodeToString(bytes.Repeat([]byte{7}, 32))
	c.redigest(f)
	f.Add(c.body(f))
	f.Add([]byte(`{"statement":"a.b.c","csr":"-----BEGIN CERTIFICATE REQUEST-----\nAA==\n-----END CERTIFICATE REQUEST-----\n"}`))
	f.Add([]byte(`{"statement":"","csr":""}`))
	f.Add([]byte(`{"statement":1}`))
	f.Add([]byte(`[]`))
	f.Add([]byte(`{"statement":"x","statement":"y"}`))
	f.Add([]byte("\xff\xfe"))
	f.Fuzz(func(t *testing.T, body []byte) {
		req := httptest.NewRequest(http.MethodPost, "/v1/enrollments", bytes.NewReader(body))
		req.Header.Set("Content-Type", ctJSON)
		rec := httptest.NewRecorder()
		e.h.ServeHTTP(rec, req)
		if rec.Code >= 500 {
			t.Fatalf("status %d for %q: %s", rec.Code, body, rec.Body)
		}
		if rec.Code == http.StatusCreated || e.devices(t) != 0 {
			t.Fatalf("a random body enrolled a device: %q", body)
		}
		var er protocol.ErrorResponse
		if err := protocol.DecodeJSON(rec.Body, protocol.MaxResponseBytes, &er); err != nil || er.Reason == "" || er.Message == "" {
			t.Fatalf("error body %q: %v", rec.Body, err)
		}
	})
}

// BenchmarkEnrollment runs whole ceremonies over loopback HTTP: challenge,
// device key and CSR, statement signed with a software key (no PIN, no
// touch), verification, step-ca signing and the store transaction. It
// reports the median as p50-ms besides the mean ns/op.
func BenchmarkEnrollment(b *testing.B) {
	e := newEnv(b)
	var took []time.Duration
	b.ResetTimer()
	for b.Loop() {
		start := time.Now()
		c := e.begin(b)
		status, resp := e.post(b, "/v1/enrollments", ctJSON, c.body(b))
		if status != http.StatusCreated {
			b.Fatalf("%d %s", status, resp)
		}
		took = append(took, time.Since(start))
	}
	sort.Slice(took, func(i, j int) bool { return took[i] < took[j] })
	b.ReportMetric(float64(took[len(took)/2].Microseconds())/1000, "p50-ms")
}

// BenchmarkVerifyStatement measures the server's verification of one
// statement: parse, signature, chain to the tenant intermediate, content.
func BenchmarkVerifyStatement(b *testing.B) {
	e := newEnv(b)
	c := e.begin(b)
	compact := c.compact(b)
	roots := x509.NewCertPool()
	roots.AddCert(e.ca.Intermediate())
	now := time.Now()
	for b.Loop() {
		s, err := protocol.Parse(compact)
		if err != nil {
			b.Fatal(err)
		}
		if _, _, err := s.Verify(roots, nil, now); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "statements/s")
}
