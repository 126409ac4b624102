package apiclient

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/kiwistack/endpoint/enroll/protocol"
)

// server is an API whose TLS certificate is its own root, served at
// /root/{fingerprint} as step-ca does.
func server(t *testing.T, h http.HandlerFunc) (*httptest.Server, string) {
	t.Helper()
	var fp string
	var srv *httptest.Server
	srv = httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/root/"+fp {
			_ = json.NewEncoder(w).Encode(map[string]string{"ca": string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw}))})
			return
		}
		if strings.HasPrefix(r.URL.Path, "/root/") {
			http.NotFound(w, r)
			return
		}
		h(w, r)
	}))
	t.Cleanup(srv.Close)
	sum := sha256.Sum256(srv.Certificate().Raw)
	fp = hex.EncodeToString(sum[:])
	return srv, fp
}

func TestDialAndDo(t *testing.T) {
	var auth string
	srv, fp := server(t, func(w http.ResponseWriter, r *http.Request) {
		auth = r.Header.Get("Authorization")
		switch r.URL.Path {
		case "/v1/challenges":
			w.WriteHeader(http.StatusForbidden)
			_ = json.NewEncoder(w).Encode(protocol.ErrorResponse{Reason: "tenant_mismatch", Message: "this API serves another tenant"})
		case "/big":
			_, _ = w.Write([]byte(`{"x":"` + strings.Repeat("A", protocol.MaxResponseBytes) + `"}`))
		case "/ok":
			_, _ = w.Write([]byte(`{"status":"ok","later":"fields are ignored"}`))
		}
	})
	ctx := context.Background()
	c, err := Dial(ctx, srv.URL, strings.ToUpper(fp), WithBearerToken("secret"))
	if err != nil {
		t.Fatal(err)
	}
	if !c.Root().Equal(srv.Certificate()) {
		t.Error("trusts another root")
	}
	var ok struct{ Status string }
	if err := c.Do(ctx, http.MethodGet, "/ok", nil, &ok); err != nil || ok.Status != "ok" || auth != "Bearer secret" {
		t.Errorf("Do: %v %+v, auth %q", err, ok, auth)
	}
	_, err = c.Challenge(ctx, protocol.ChallengeRequest{Operation: protocol.OpEnrollDevice, Tenant: "acme"})
	var ae *Error
	if !errors.As(err, &ae) || ae.Status != 403 || ae.Reason != "tenant_mismatch" || !strings.Contains(err.Error(), "another tenant") {
		t.Errorf("Challenge: %v", err)
	}
	if err := c.Do(ctx, http.MethodGet, "/big", nil, &ok); err == nil || !strings.Contains(err.Error(), "larger than") {
		t.Errorf("oversize answer: %v", err)
	}
}

func TestDialRefuses(t *testing.T) {
	srv, fp := server(t, func(http.ResponseWriter, *http.Request) {})
	other := strings.Repeat("ab", 32)
	for name, tc := range map[string]struct {
		url, fp string
		is      error
	}{
		"wrong fingerprint": {srv.URL, other, ErrFingerprint},
		"short fingerprint": {srv.URL, fp[:10], nil},
		"http URL":          {strings.Replace(srv.URL, "https", "http", 1), fp, nil},
	} {
		_, err := Dial(context.Background(), tc.url, tc.fp)
		if err == nil || (tc.is != nil && !errors.Is(err, tc.is)) {
			t.Errorf("%s: %v", name, err)
		}
	}
}
