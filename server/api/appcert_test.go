package api

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/kiwistack/endpoint/enroll/protocol"
	"github.com/kiwistack/endpoint/server/store"
)

// appCSR returns a new key and the PEM CSR of it, without names.
func appCSR(t testing.TB) (*ecdsa.PrivateKey, string) {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{}, k)
	if err != nil {
		t.Fatal(err)
	}
	return k, string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: der}))
}

// postApp calls POST /v1/device/app-certificate with cert (none when nil).
func (ce *checkinEnv) postApp(t *testing.T, cert *tls.Certificate, ctype string, body []byte) (int, []byte) {
	t.Helper()
	tr := ce.tls.Client().Transport.(*http.Transport).Clone()
	if cert != nil {
		tr.TLSClientConfig.Certificates = []tls.Certificate{*cert}
	}
	defer tr.CloseIdleConnections()
	req, err := http.NewRequest(http.MethodPost, ce.tls.URL+protocol.PathAppCertificate, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", ctype)
	resp, err := (&http.Client{Transport: tr, Timeout: 10 * time.Second}).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var buf bytes.Buffer
	if _, err := buf.ReadFrom(resp.Body); err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, buf.Bytes()
}

func appBody(t testing.TB, req protocol.AppCertificateRequest) []byte {
	t.Helper()
	b, err := json.Marshal(req)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// issueApp gets an app certificate for user on d and returns it with its
// key, as a TLS certificate, and the response.
func (ce *checkinEnv) issueApp(t *testing.T, d *checkinDevice, user string, lifetime int64) (*tls.Certificate, protocol.AppCertificateResponse) {
	t.Helper()
	key, csr := appCSR(t)
	status, body := ce.postApp(t, d.tlsCert(), ctJSON, appBody(t, protocol.AppCertificateRequest{CSR: csr, User: user, LifetimeSeconds: lifetime}))
	if status != http.StatusCreated {
		t.Fatalf("app certificate: %d %s", status, body)
	}
	var resp protocol.AppCertificateResponse
	if err := protocol.DecodeJSON(bytes.NewReader(body), protocol.MaxResponseBytes, &resp); err != nil {
		t.Fatal(err)
	}
	cert := &tls.Certificate{PrivateKey: key}
	rest := []byte(resp.Certificate)
	for {
		var b *pem.Block
		b, rest = pem.Decode(rest)
		if b == nil {
			break
		}
		cert.Certificate = append(cert.Certificate, b.Bytes)
	}
	leaf, err := x509.ParseCertificate(cert.Certificate[0])
	if err != nil {
		t.Fatal(err)
	}
	cert.Leaf = leaf
	return cert, resp
}

func TestAppCertificate(t *testing.T) {
	ce := newCheckinEnv(t, nil)
	d := ce.enrollDevice(t)
	before := ce.audits(t)
	cert, resp := ce.issueApp(t, d, "alice", 0)
	leaf := cert.Leaf

	// Chained to the tenant, for client authentication only.
	roots := x509.NewCertPool()
	roots.AddCert(checkinPEM(t, resp.Root))
	inter := x509.NewCertPool()
	for _, der := range cert.Certificate[1:] {
		c, _ := x509.ParseCertificate(der)
		inter.AddCert(c)
	}
	if _, err := leaf.Verify(x509.VerifyOptions{Roots: roots, Intermediates: inter, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}); err != nil {
		t.Errorf("the app certificate does not verify for client auth: %v", err)
	}
	if _, err := leaf.Verify(x509.VerifyOptions{Roots: roots, Intermediates: inter, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}); err == nil {
		t.Error("the app certificate verifies for server auth")
	}
	if !slices.Equal(leaf.ExtKeyUsage, []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}) {
		t.Errorf("extended key usages %v, want clientAuth only", leaf.ExtKeyUsage)
	}
	if leaf.Issuer.CommonName != protocol.IntermediateCommonName(tenant) {
		t.Errorf("issuer CN %q, want %q (the Chromium policy selects by it)", leaf.Issuer.CommonName, protocol.IntermediateCommonName(tenant))
	}
	// Bound to the device, distinct from a device certificate.
	if got, want := leaf.Subject.CommonName, "alice@"+d.id; got != want {
		t.Errorf("CN %q, want %q", got, want)
	}
	if !slices.Equal(leaf.Subject.OrganizationalUnit, []string{protocol.AppCertificateOU}) || !slices.Equal(leaf.Subject.Organization, []string{tenant}) {
		t.Errorf("subject %s, want OU %s and O %s", leaf.Subject, protocol.AppCertificateOU, tenant)
	}
	if len(leaf.URIs) != 1 || leaf.URIs[0].String() != protocol.AppURI(tenant, d.id).String() {
		t.Errorf("URIs %v, want only %s", leaf.URIs, protocol.AppURI(tenant, d.id))
	}
	if len(leaf.DNSNames)+len(leaf.IPAddresses)+len(leaf.EmailAddresses) != 0 {
		t.Errorf("names beyond the app URI: %v %v %v", leaf.DNSNames, leaf.IPAddresses, leaf.EmailAddresses)
	}
	if !protocol.IsAppCertificate(leaf) || protocol.IsAppCertificate(d.leaf) {
		t.Error("IsAppCertificate does not tell the app certificate from the device certificate")
	}
	// Short-lived: never past the device certificate, at most 24 h.
	if leaf.NotAfter.After(d.leaf.NotAfter) {
		t.Errorf("the app certificate ends %s, after the device certificate (%s)", leaf.NotAfter, d.leaf.NotAfter)
	}
	if time.Until(leaf.NotAfter) > protocol.MaxAppCertificateLifetime {
		t.Errorf("lifetime above 24 h: not after %s", leaf.NotAfter)
	}
	if resp.NotAfter != leaf.NotAfter.UTC().Format(protocol.TimestampLayout) {
		t.Errorf("not_after %s, certificate %s", resp.NotAfter, leaf.NotAfter)
	}
	if after := ce.audits(t); after != before+1 {
		t.Errorf("%d audit entries, want 1", after-before)
	}

	// A shorter lifetime on request.
	short, _ := ce.issueApp(t, d, "bob", 600)
	if left := time.Until(short.Leaf.NotAfter); left > 11*time.Minute || left < 9*time.Minute {
		t.Errorf("asked for 600 s, got %s left", left)
	}
}

// TestAppCertificateNotADeviceIdentity: an app certificate opens nothing a
// device certificate opens, and is never recorded for the hub.
func TestAppCertificateNotADeviceIdentity(t *testing.T) {
	ce := newCheckinEnv(t, nil)
	d := ce.enrollDevice(t)
	app, _ := ce.issueApp(t, d, "alice", 0)
	certsBefore := deviceCerts(t, ce.st, d.id)

	status, body := ce.checkIn(t, app)
	if status != http.StatusUnauthorized || !strings.Contains(string(body), protocol.ReasonChain) {
		t.Errorf("check-in with the app certificate: %d %s, want 401 %s", status, body, protocol.ReasonChain)
	}
	_, csr := appCSR(t)
	status, body = ce.postApp(t, app, ctJSON, appBody(t, protocol.AppCertificateRequest{CSR: csr, User: "alice"}))
	if status != http.StatusUnauthorized || !strings.Contains(string(body), "not a device identity") {
		t.Errorf("app certificate for an app certificate: %d %s, want 401", status, body)
	}
	tr := ce.tls.Client().Transport.(*http.Transport).Clone()
	tr.TLSClientConfig.Certificates = []tls.Certificate{*app}
	resp, err := (&http.Client{Transport: tr, Timeout: 10 * time.Second}).Get(ce.tls.URL + "/v1/device/commands")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("commands with the app certificate: %d, want 401", resp.StatusCode)
	}
	// The hub keeps a peer while the store lists an unexpired certificate
	// of the device (server/hub): the app certificate is never one.
	if after := deviceCerts(t, ce.st, d.id); !slices.Equal(after, certsBefore) {
		t.Errorf("the device's certificates changed from %v to %v", certsBefore, after)
	}
	for _, serial := range deviceCerts(t, ce.st, d.id) {
		if serial == strings.TrimLeft(app.Leaf.SerialNumber.Text(16), "0") {
			t.Error("the app certificate is recorded as a device certificate")
		}
	}
}

func deviceCerts(t *testing.T, st store.Store, id string) []string {
	t.Helper()
	dev, err := st.DeviceByID(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, c := range dev.Certificates {
		out = append(out, c.Serial)
	}
	return out
}

func TestAppCertificateRejections(t *testing.T) {
	ce := newCheckinEnv(t, nil)
	d := ce.enrollDevice(t)
	_, csr := appCSR(t)
	devCSR := d.c.csr
	for _, tc := range []struct {
		name   string
		cert   *tls.Certificate
		ctype  string
		body   []byte
		status int
		reason string
	}{
		{"no client certificate", nil, ctJSON, appBody(t, protocol.AppCertificateRequest{CSR: csr, User: "alice"}), 401, protocol.ReasonChain},
		{"media type", d.tlsCert(), "text/plain", appBody(t, protocol.AppCertificateRequest{CSR: csr, User: "alice"}), 415, ReasonMediaType},
		{"not JSON", d.tlsCert(), ctJSON, []byte("csr=x"), 400, protocol.ReasonMalformed},
		{"unknown field", d.tlsCert(), ctJSON, []byte(`{"csr":"x","user":"alice","admin":true}`), 400, protocol.ReasonMalformed},
		{"no user", d.tlsCert(), ctJSON, appBody(t, protocol.AppCertificateRequest{CSR: csr}), 400, protocol.ReasonMalformed},
		{"bad user", d.tlsCert(), ctJSON, appBody(t, protocol.AppCertificateRequest{CSR: csr, User: "../root"}), 400, protocol.ReasonMalformed},
		{"lifetime", d.tlsCert(), ctJSON, appBody(t, protocol.AppCertificateRequest{CSR: csr, User: "alice", LifetimeSeconds: 90000}), 400, protocol.ReasonMalformed},
		{"csr not PEM", d.tlsCert(), ctJSON, appBody(t, protocol.AppCertificateRequest{CSR: "MIIB", User: "alice"}), 400, protocol.ReasonMalformed},
		{"csr garbage", d.tlsCert(), ctJSON, appBody(t, protocol.AppCertificateRequest{CSR: "-----BEGIN CERTIFICATE REQUEST-----\nAAAA\n-----END CERTIFICATE REQUEST-----\n", User: "alice"}), 400, ReasonBadCSR},
		{"device key", d.tlsCert(), ctJSON, appBody(t, protocol.AppCertificateRequest{CSR: devCSR, User: "alice"}), 400, ReasonBadCSR},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := ce.audits(t)
			status, body := ce.postApp(t, tc.cert, tc.ctype, tc.body)
			var er protocol.ErrorResponse
			_ = json.Unmarshal(body, &er)
			if status != tc.status || er.Reason != tc.reason || er.Message == "" {
				t.Errorf("%d %s, want %d %s with a message", status, body, tc.status, tc.reason)
			}
			if after := ce.audits(t); after != before+1 {
				t.Errorf("%d audit entries, want 1", after-before)
			}
		})
	}

	// A revoked (or locked, wiped, replaced) device gets none.
	for _, st := range []string{store.StatusRevoked, store.StatusLocked} {
		t.Run(st, func(t *testing.T) {
			d := ce.enrollDevice(t)
			ce.setStatus(t, d.id, st, "")
			status, body := ce.postApp(t, d.tlsCert(), ctJSON, appBody(t, protocol.AppCertificateRequest{CSR: csr, User: "alice"}))
			if status != http.StatusForbidden || !strings.Contains(string(body), ReasonDeviceInactive) {
				t.Errorf("%d %s, want 403 %s", status, body, ReasonDeviceInactive)
			}
		})
	}

	// A device certificate about to end: renew it first.
	t.Run("device certificate expiring", func(t *testing.T) {
		ce.skew.Store(int64(time.Until(d.leaf.NotAfter) - 30*time.Second))
		defer ce.skew.Store(0)
		status, body := ce.postApp(t, d.tlsCert(), ctJSON, appBody(t, protocol.AppCertificateRequest{CSR: csr, User: "alice"}))
		if status != http.StatusForbidden || !strings.Contains(string(body), ReasonDeviceCertExpiring) {
			t.Errorf("%d %s, want 403 %s", status, body, ReasonDeviceCertExpiring)
		}
	})
}

// FuzzAppCertificateHandler feeds arbitrary bodies from an enrolled device
// to POST /v1/device/app-certificate: the handler never answers 5xx, never
// issues a certificate for a body that does not validate, and always
// answers a reason and a message.
func FuzzAppCertificateHandler(f *testing.F) {
	e := newEnv(f)
	c := e.begin(f)
	status, body := e.post(f, "/v1/enrollments", ctJSON, c.body(f))
	if status != http.StatusCreated {
		f.Fatalf("enrolling: %d %s", status, body)
	}
	var er protocol.EnrollResponse
	if err := json.Unmarshal(body, &er); err != nil {
		f.Fatal(err)
	}
	b, _ := pem.Decode([]byte(er.Certificate))
	leaf, err := x509.ParseCertificate(b.Bytes)
	if err != nil {
		f.Fatal(err)
	}
	var chain []*x509.Certificate
	for _, p := range er.Chain {
		b, _ := pem.Decode([]byte(p))
		x, err := x509.ParseCertificate(b.Bytes)
		if err != nil {
			f.Fatal(err)
		}
		chain = append(chain, x)
	}
	_, csr := appCSR(f)
	f.Add(appBody(f, protocol.AppCertificateRequest{CSR: csr, User: "alice", LifetimeSeconds: 60}))
	f.Add([]byte(`{"csr":"-----BEGIN CERTIFICATE REQUEST-----\nAA==\n-----END CERTIFICATE REQUEST-----\n","user":"a"}`))
	f.Add([]byte(`{"csr":"","user":""}`))
	f.Add([]byte(`{"user":"x","user":"y"}`))
	f.Add([]byte(`{"csr":1}`))
	f.Add([]byte("\xff\xfe"))
	f.Fuzz(func(t *testing.T, body []byte) {
		req := httptest.NewRequest(http.MethodPost, protocol.PathAppCertificate, bytes.NewReader(body))
		req.Header.Set("Content-Type", ctJSON)
		req.TLS = &tls.ConnectionState{PeerCertificates: append([]*x509.Certificate{leaf}, chain[:len(chain)-1]...)}
		rec := httptest.NewRecorder()
		e.h.ServeHTTP(rec, req)
		if rec.Code >= 500 {
			t.Fatalf("status %d for %q: %s", rec.Code, body, rec.Body)
		}
		if rec.Code == http.StatusCreated {
			var r protocol.AppCertificateRequest
			if err := protocol.DecodeJSON(bytes.NewReader(body), protocol.MaxRequestBytes, &r); err != nil || r.Validate() != nil {
				t.Fatalf("a body that does not validate got a certificate: %q", body)
			}
			return
		}
		var er protocol.ErrorResponse
		if err := protocol.DecodeJSON(rec.Body, protocol.MaxResponseBytes, &er); err != nil || er.Reason == "" || er.Message == "" {
			t.Fatalf("error body %q: %v", rec.Body, err)
		}
	})
}
