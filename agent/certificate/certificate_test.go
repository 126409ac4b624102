package certificate

import (
	"context"
	"crypto/x509"
	"crypto/x509/pkix"
	"strings"
	"testing"
	"time"

	"github.com/kiwistack/endpoint/agent/enrollment"
)

func TestWarnings(t *testing.T) {
	now := time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC)
	mk := func(cn string, root bool, left time.Duration) *x509.Certificate {
		c := &x509.Certificate{Subject: pkix.Name{CommonName: cn}, Issuer: pkix.Name{CommonName: "acme root"}, IsCA: true, NotAfter: now.Add(left)}
		if root {
			c.Issuer = c.Subject
		}
		return c
	}
	cases := []struct {
		name  string
		chain []*x509.Certificate
		want  []string
	}{
		{"far", []*x509.Certificate{mk("acme intermediate", false, 365*24*time.Hour), mk("acme root", true, 3650*24*time.Hour)}, nil},
		{"intermediate soon", []*x509.Certificate{mk("acme intermediate", false, 10*24*time.Hour)}, []string{`tenant intermediate "acme intermediate" expires on 2026-06-11 (in 10 days)`}},
		{"root expired", []*x509.Certificate{mk("acme root", true, -time.Hour)}, []string{`tenant root "acme root" expired on 2026-05-31`}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got := Warnings(c.chain, now)
			if len(got) != len(c.want) {
				t.Fatalf("Warnings = %q, want %d", got, len(c.want))
			}
			for i := range got {
				if !strings.Contains(got[i], c.want[i]) {
					t.Errorf("warning %q lacks %q", got[i], c.want[i])
				}
			}
		})
	}
}

// TestMissingFilesKeepNothingAndRetry: an enrollment whose files are
// missing reports an error, retries with backoff, and deletes nothing.
func TestMissingFilesRetry(t *testing.T) {
	dir := t.TempDir()
	rec := &enrollment.Record{Certificate: dir + "/device.crt", Key: dir + "/device.key", Root: dir + "/root.crt"}
	now := time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC)
	c := New(func() *enrollment.Record { return rec }, Options{Now: func() time.Time { return now }})
	var delays []time.Duration
	for range 3 {
		next, err := c.Reconcile(context.Background())
		if err == nil {
			t.Fatal("Reconcile without files succeeded")
		}
		delays = append(delays, next.Sub(now))
	}
	if delays[0] != loadRetryMin || delays[1] != 2*loadRetryMin || delays[2] != 4*loadRetryMin {
		t.Errorf("retry delays = %v", delays)
	}
	if s := c.Status(); s == nil || s.State != "error" || s.LastError == "" {
		t.Errorf("status = %+v", s)
	}
	if st, _ := c.State(); st != "error" {
		t.Errorf("state = %s", st)
	}
}
