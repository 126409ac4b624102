package command

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"errors"
	"io"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/kiwistack/endpoint/agent/enrollment"
	"github.com/kiwistack/endpoint/enroll/protocol"
)

// issue makes a certificate for key signed by parent (self-signed when
// parent is nil).
func issue(t *testing.T, cn string, key *ecdsa.PrivateKey, parent *x509.Certificate, parentKey *ecdsa.PrivateKey, ca bool) *x509.Certificate {
	t.Helper()
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(time.Now().UnixNano()), Subject: pkix.Name{CommonName: cn},
		NotBefore: time.Now().Add(-time.Minute), NotAfter: time.Now().Add(time.Hour), IsCA: ca, BasicConstraintsValid: true,
		KeyUsage:    x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth, x509.ExtKeyUsageServerAuth}}
	if parent == nil {
		parent, parentKey = tmpl, key
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, &key.PublicKey, parentKey)
	if err != nil {
		t.Fatal(err)
	}
	c, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// TestHTTPAPI runs HTTPAPI against a TLS server that requires the device
// certificate: the fetch, an acknowledgement, and an API refusal.
func TestHTTPAPI(t *testing.T) {
	dir := t.TempDir()
	rootKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	root := issue(t, "root", rootKey, nil, nil, true)
	devKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	dev := issue(t, "dev-1", devKey, root, rootKey, false)
	write := func(name, typ string, der []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	keyDER, _ := x509.MarshalECPrivateKey(devKey)
	pool := x509.NewCertPool()
	pool.AddCert(root)

	var acked protocol.CommandAck
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if len(r.TLS.PeerCertificates) == 0 || r.TLS.PeerCertificates[0].Subject.CommonName != "dev-1" {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		switch {
		case r.Method == http.MethodGet && r.URL.Path == protocol.PathDeviceCommands:
			_ = json.NewEncoder(w).Encode(protocol.CommandList{Commands: []protocol.SignedCommand{{Payload: "p", Signature: "s"}}})
		case r.Method == http.MethodPost && r.URL.Path == "/v1/device/commands/cmd-1/ack" && r.Header.Get("Content-Type") == "application/json":
			b, _ := io.ReadAll(r.Body)
			_ = json.Unmarshal(b, &acked)
			w.WriteHeader(http.StatusNoContent)
		default:
			w.WriteHeader(http.StatusNotFound)
			_ = json.NewEncoder(w).Encode(protocol.ErrorResponse{Reason: "unknown_command", Message: "no such command"})
		}
	}))
	srvKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	srv.TLS = &tls.Config{ClientAuth: tls.RequireAndVerifyClientCert, ClientCAs: pool,
		Certificates: []tls.Certificate{{Certificate: [][]byte{issueIP(t, srvKey, root, rootKey).Raw}, PrivateKey: srvKey}}}
	srv.StartTLS()
	defer srv.Close()

	rec := &enrollment.Record{AgentConfig: protocol.AgentConfig{APIURL: srv.URL + "/", DeviceID: "dev-1", Tenant: "acme"},
		Certificate: write("device.crt", "CERTIFICATE", dev.Raw), Key: write("device.key", "EC PRIVATE KEY", keyDER),
		Root: write("root.crt", "CERTIFICATE", root.Raw)}
	ctx := context.Background()
	cs, err := HTTPAPI{}.Commands(ctx, rec)
	if err != nil || len(cs) != 1 || cs[0].Payload != "p" {
		t.Fatalf("Commands = %v, %v", cs, err)
	}
	if err := (HTTPAPI{}).Ack(ctx, rec, "cmd-1", protocol.CommandAck{Result: protocol.AckDone, Message: "ok"}); err != nil || acked.Result != "done" {
		t.Fatalf("Ack = %v, server got %+v", err, acked)
	}
	var ae *APIError
	if err := (HTTPAPI{}).Ack(ctx, rec, "cmd-2", protocol.CommandAck{Result: protocol.AckDone}); !errors.As(err, &ae) || ae.Reason != "unknown_command" {
		t.Errorf("Ack of an unknown command = %v", err)
	}
}

// issueIP makes the server's certificate for 127.0.0.1.
func issueIP(t *testing.T, key *ecdsa.PrivateKey, parent *x509.Certificate, parentKey *ecdsa.PrivateKey) *x509.Certificate {
	t.Helper()
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(time.Now().UnixNano()), Subject: pkix.Name{CommonName: "api"},
		NotBefore: time.Now().Add(-time.Minute), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, &key.PublicKey, parentKey)
	if err != nil {
		t.Fatal(err)
	}
	c, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return c
}
