package renew

import (
	"bytes"
	"context"
	"crypto"
	"crypto/rand"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/kiwistack/endpoint/enroll/protocol"
	"github.com/kiwistack/endpoint/server/ca"
)

// TestReissue: the client sends a CSR for its own key with its
// certificate's names over mutual TLS, and takes the answer only when it
// is a certificate for that key chained to the pinned root; a refusal is
// ClassRefused with the API's reason, a certificate for another key is
// ClassMalformed.
func TestReissue(t *testing.T) {
	c := newTestCA(t)
	cur := c.enroll(t, time.Minute)
	other := c.enroll(t, time.Minute)
	mode := "ok"
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != PathDeviceReissue || r.Method != http.MethodPost || r.Header.Get("Content-Type") != "application/json" {
			http.Error(w, "wrong route", http.StatusNotFound)
			return
		}
		if len(r.TLS.PeerCertificates) == 0 || !r.TLS.PeerCertificates[0].Equal(cur.Leaf) {
			http.Error(w, "no client certificate", http.StatusUnauthorized)
			return
		}
		var req protocol.DeviceReissueRequest
		if err := json.NewDecoder(r.Body).Decode(&req); err != nil || req.Validate() != nil {
			http.Error(w, "bad body", http.StatusBadRequest)
			return
		}
		b, _ := pem.Decode([]byte(req.CSR))
		csr, err := x509.ParseCertificateRequest(b.Bytes)
		if err != nil || csr.CheckSignature() != nil || !bytes.Equal(csr.RawSubjectPublicKeyInfo, cur.Leaf.RawSubjectPublicKeyInfo) {
			http.Error(w, "csr not for the device key", http.StatusBadRequest)
			return
		}
		switch mode {
		case "refuse":
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusForbidden)
			_ = json.NewEncoder(w).Encode(protocol.ErrorResponse{Reason: "device_inactive", Message: "this device is revoked"})
			return
		case "other key":
			der, _ := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{}, other.PrivateKey.(crypto.Signer))
			csr, _ = x509.ParseCertificateRequest(der)
		}
		leaf, chain, err := c.e.Sign(context.Background(), csr, "dev-1", 2*time.Minute)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		resp := protocol.EnrollResponse{DeviceID: "dev-1", Certificate: string(ca.PEM(leaf)), Root: string(ca.PEM(chain[len(chain)-1]))}
		for _, x := range chain[:len(chain)-1] {
			resp.Chain = append(resp.Chain, string(ca.PEM(x)))
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(resp)
	}))
	srv.TLS = c.tlsConf.Clone()
	srv.Config.ErrorLog = log.New(io.Discard, "", 0)
	srv.StartTLS()
	t.Cleanup(srv.Close)
	cl := c.client(t)

	got, err := cl.Reissue(context.Background(), srv.URL, cur, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got.Leaf.RawSubjectPublicKeyInfo, cur.Leaf.RawSubjectPublicKeyInfo) || got.Leaf.Equal(cur.Leaf) || !got.Leaf.NotAfter.After(cur.Leaf.NotAfter) {
		t.Errorf("reissued %v until %s", got.Leaf.SerialNumber, got.Leaf.NotAfter)
	}
	if len(got.Certificate) != 2 {
		t.Errorf("reissued chain has %d certificates, want leaf and intermediate", len(got.Certificate))
	}

	mode = "refuse"
	_, err = cl.Reissue(context.Background(), srv.URL, cur, time.Now())
	var re *Error
	if !errors.As(err, &re) || re.Class != ClassRefused || !errors.Is(err, ErrRefused) || !bytes.Contains([]byte(err.Error()), []byte("device_inactive")) {
		t.Errorf("refused reissue: %v", err)
	}
	mode = "other key"
	if _, err = cl.Reissue(context.Background(), srv.URL, cur, time.Now()); !errors.As(err, &re) || re.Class != ClassMalformed {
		t.Errorf("certificate for another key: %v", err)
	}
	if _, err := cl.Reissue(context.Background(), "http://"+srv.Listener.Addr().String(), cur, time.Now()); err == nil {
		t.Error("a plain-HTTP API URL was used")
	}
}
