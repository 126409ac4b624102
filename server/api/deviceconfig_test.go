package api

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"net/http"
	"net/http/httptest"
	"reflect"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/kiwistack/endpoint/enroll/protocol"
	"github.com/kiwistack/endpoint/server/store"
)

// checkinHub is a hub that answers one configuration (or fails with err)
// and counts its pokes.
type checkinHub struct {
	cfg   *protocol.WireGuardConfig
	err   error
	pokes atomic.Int32

	mu  sync.Mutex
	ids []string
}

func (f *checkinHub) Config(_ context.Context, id string) (*protocol.WireGuardConfig, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.ids = append(f.ids, id)
	if f.err != nil {
		return nil, f.err
	}
	c := *f.cfg
	c.AllowedIPs = append([]string(nil), f.cfg.AllowedIPs...)
	return &c, nil
}

func (f *checkinHub) Poke() { f.pokes.Add(1) }

func hubConfig() *protocol.WireGuardConfig {
	return &protocol.WireGuardConfig{Endpoint: "hub.acme.test:51820", PublicKey: "xTIBA5rboUvnH4htodjb6e697QjLERt1NAB4mZqp8Dg=",
		Address: "100.96.0.7/32", AllowedIPs: []string{"100.96.0.0/16"}, HubAddress: "100.96.0.1"}
}

// checkinEnv is a tenant API served over TLS that asks for, but does not
// verify, client certificates (serve and dev verify them against the
// roots too), so that the handler's own checks are what is tested; its
// clock runs skew ahead of the wall clock.
type checkinEnv struct {
	*env
	tls  *httptest.Server
	skew atomic.Int64
}

func newCheckinEnv(t *testing.T, tun Tunnel) *checkinEnv {
	t.Helper()
	ce := &checkinEnv{}
	ce.env = newEnv(t, func(c *Config) {
		// Set as serve and dev set it: unlike the enrollment, the
		// check-in answers the root fingerprint only when configured.
		c.RootFingerprint = rootFingerprint(t, c.CA)
		if tun != nil {
			c.Tunnel = tun
		}
		c.Now = func() time.Time { return time.Now().Add(time.Duration(ce.skew.Load())) }
	})
	ce.tls = httptest.NewUnstartedServer(ce.h)
	ce.tls.TLS = &tls.Config{ClientAuth: tls.RequestClientCert}
	ce.tls.StartTLS()
	t.Cleanup(ce.tls.Close)
	return ce
}

// rootFingerprint is the fingerprint of the root of ca.
func rootFingerprint(t *testing.T, ca CA) string {
	t.Helper()
	f, ok := ca.(interface{ Fingerprint() string })
	if !ok {
		t.Fatal("the CA has no fingerprint")
	}
	return f.Fingerprint()
}

// checkinDevice is an enrolled device as the laptop holds it.
type checkinDevice struct {
	c     *ceremony
	id    string
	leaf  *x509.Certificate
	chain []*x509.Certificate
}

// tlsCert is the device's TLS client certificate: leaf and intermediates.
func (d *checkinDevice) tlsCert() *tls.Certificate {
	return checkinCert(d.c.deviceKey, d.leaf, d.chain)
}

func checkinCert(key *ecdsa.PrivateKey, leaf *x509.Certificate, chain []*x509.Certificate) *tls.Certificate {
	c := &tls.Certificate{Certificate: [][]byte{leaf.Raw}, PrivateKey: key, Leaf: leaf}
	for _, x := range chain {
		if !bytes.Equal(x.RawIssuer, x.RawSubject) { // not the root
			c.Certificate = append(c.Certificate, x.Raw)
		}
	}
	return c
}

// enrollDevice runs a whole enrollment and returns the device.
func (e *env) enrollDevice(t *testing.T) *checkinDevice {
	t.Helper()
	c := e.begin(t)
	status, body := e.post(t, "/v1/enrollments", "application/json", c.body(t))
	if status != http.StatusCreated {
		t.Fatalf("enrolling: %d %s", status, body)
	}
	var er protocol.EnrollResponse
	if err := json.Unmarshal(body, &er); err != nil {
		t.Fatal(err)
	}
	d := &checkinDevice{c: c, id: er.DeviceID, leaf: checkinPEM(t, er.Certificate)}
	if h, ok := e.h.cfg.Tunnel.(*checkinHub); ok {
		// The enrollment asked the hub too; only check-ins count.
		h.mu.Lock()
		h.ids = nil
		h.mu.Unlock()
	}
	for _, p := range er.Chain {
		d.chain = append(d.chain, checkinPEM(t, p))
	}
	return d
}

func checkinPEM(t *testing.T, s string) *x509.Certificate {
	t.Helper()
	b, _ := pem.Decode([]byte(s))
	if b == nil {
		t.Fatalf("no PEM block in %q", s)
	}
	c, err := x509.ParseCertificate(b.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func checkinCSR(t *testing.T, s string) *x509.CertificateRequest {
	t.Helper()
	b, _ := pem.Decode([]byte(s))
	csr, err := x509.ParseCertificateRequest(b.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	return csr
}

// checkIn calls GET /v1/device/config with cert (none when nil).
func (ce *checkinEnv) checkIn(t *testing.T, cert *tls.Certificate) (int, []byte) {
	t.Helper()
	tr := ce.tls.Client().Transport.(*http.Transport).Clone()
	if cert != nil {
		tr.TLSClientConfig.Certificates = []tls.Certificate{*cert}
	}
	defer tr.CloseIdleConnections()
	resp, err := (&http.Client{Transport: tr, Timeout: 10 * time.Second}).Get(ce.tls.URL + protocol.PathDeviceConfig)
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

// setStatus sets a device's status behind the API's back, as remote_lock
// or a re-enrollment (replacedBy) would.
func (e *env) setStatus(t *testing.T, id, status, replacedBy string) {
	t.Helper()
	var seq int
	var name, file string
	if err := e.db.QueryRow(`PRAGMA database_list`).Scan(&seq, &name, &file); err != nil {
		t.Fatal(err)
	}
	db, err := sql.Open("sqlite", "file:"+file+"?_pragma=busy_timeout(5000)")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var by any
	if replacedBy != "" {
		by = replacedBy
	}
	if _, err := db.Exec(`UPDATE devices SET status = ?, replaced_by = ? WHERE id = ?`, status, by, id); err != nil {
		t.Fatal(err)
	}
}

func TestDeviceConfig(t *testing.T) {
	tun := &checkinHub{cfg: hubConfig()}
	ce := newCheckinEnv(t, tun)
	d := ce.enrollDevice(t)
	before := ce.audits(t)

	status, body := ce.checkIn(t, d.tlsCert())
	if status != http.StatusOK {
		t.Fatalf("check-in: %d %s", status, body)
	}
	var got protocol.AgentConfig
	if err := protocol.DecodeJSON(bytes.NewReader(body), protocol.MaxResponseBytes, &got); err != nil {
		t.Fatal(err)
	}
	want := protocol.AgentConfig{Version: 1, Tenant: tenant, DeviceID: d.id, CAURL: "https://ca.acme.test",
		RootFingerprint: ce.ca.Fingerprint(), APIURL: "https://api.acme.test", WireGuard: hubConfig()}
	got.CommandKey = "" // commands_test.go's
	if !reflect.DeepEqual(got, want) {
		t.Errorf("config %+v (wireguard %+v), want %+v (wireguard %+v)", got, got.WireGuard, want, want.WireGuard)
	}
	tun.mu.Lock()
	ids := append([]string(nil), tun.ids...)
	tun.mu.Unlock()
	if n := len(ids); n == 0 || ids[n-1] != d.id {
		t.Errorf("hub asked for %v, want the device %s last", ids, d.id)
	}
	if tun.pokes.Load() == 0 {
		t.Error("the hub was not poked")
	}
	dev, err := ce.st.DeviceByID(context.Background(), d.id)
	if err != nil {
		t.Fatal(err)
	}
	if len(dev.Certificates) != 1 {
		t.Errorf("a known certificate was recorded again: %+v", dev.Certificates)
	}
	if after := ce.audits(t); after != before {
		t.Errorf("a check-in wrote %d audit entries, want none", after-before)
	}
}

func TestDeviceConfigTunnel(t *testing.T) {
	for _, tc := range []struct {
		name string
		tun  *checkinHub
	}{
		{"no hub", nil},
		{"hub fails", &checkinHub{err: errors.New("address pool exhausted")}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var tun Tunnel
			if tc.tun != nil {
				tun = tc.tun
			}
			ce := newCheckinEnv(t, tun)
			d := ce.enrollDevice(t)
			status, body := ce.checkIn(t, d.tlsCert())
			if status != http.StatusOK {
				t.Fatalf("check-in: %d %s", status, body)
			}
			var got protocol.AgentConfig
			if err := json.Unmarshal(body, &got); err != nil {
				t.Fatal(err)
			}
			if got.DeviceID != d.id || got.WireGuard != nil {
				t.Errorf("config %+v, want device %s without wireguard", got, d.id)
			}
			if tc.tun != nil && tc.tun.pokes.Load() == 0 {
				t.Error("a failing hub was not poked")
			}
		})
	}
}

func TestDeviceConfigRenewedCertificate(t *testing.T) {
	ce := newCheckinEnv(t, &checkinHub{cfg: hubConfig()})
	d := ce.enrollDevice(t)
	leaf, chain, err := ce.ca.Sign(context.Background(), checkinCSR(t, d.c.csr), d.id, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	before := ce.audits(t)
	for range 2 {
		if status, body := ce.checkIn(t, checkinCert(d.c.deviceKey, leaf, chain)); status != http.StatusOK {
			t.Fatalf("check-in with the renewed certificate: %d %s", status, body)
		}
	}
	dev, err := ce.st.DeviceByID(context.Background(), d.id)
	if err != nil {
		t.Fatal(err)
	}
	serial := hex.EncodeToString(leaf.SerialNumber.Bytes())
	if len(dev.Certificates) != 2 || dev.Certificates[1].Serial != serial || dev.Certificates[1].NotAfter.Unix() != leaf.NotAfter.Unix() {
		t.Errorf("certificates %+v, want the enrollment's and the renewed %s (not after %s) once", dev.Certificates, serial, leaf.NotAfter)
	}
	if after := ce.audits(t); after != before {
		t.Errorf("recording a renewal wrote %d audit entries, want none", after-before)
	}
}

func TestDeviceConfigRejects(t *testing.T) {
	other, _, _ := openCA(t, "globex")
	for _, tc := range []struct {
		name   string
		prep   func(t *testing.T, ce *checkinEnv, d *checkinDevice) *tls.Certificate
		status int
		reason string
	}{
		{"no client certificate", func(*testing.T, *checkinEnv, *checkinDevice) *tls.Certificate { return nil },
			http.StatusUnauthorized, protocol.ReasonChain},
		{"another tenant's CA", func(t *testing.T, _ *checkinEnv, d *checkinDevice) *tls.Certificate {
			csr := deviceCSR(t, d.c.deviceKey, d.c.wgKey, func(r *x509.CertificateRequest) {
				r.URIs[0] = protocol.DeviceURI("globex", d.id)
			})
			leaf, chain, err := other.Sign(context.Background(), checkinCSR(t, csr), d.id, time.Hour)
			if err != nil {
				t.Fatal(err)
			}
			return checkinCert(d.c.deviceKey, leaf, chain)
		}, http.StatusUnauthorized, protocol.ReasonChain},
		{"self-signed", func(t *testing.T, _ *checkinEnv, d *checkinDevice) *tls.Certificate {
			key := newKey(t)
			c := selfSigned(t, key, d.leaf)
			return checkinCert(key, c, nil)
		}, http.StatusUnauthorized, protocol.ReasonChain},
		{"expired", func(_ *testing.T, ce *checkinEnv, d *checkinDevice) *tls.Certificate {
			ce.skew.Store(int64(time.Until(d.leaf.NotAfter) + time.Minute))
			return d.tlsCert()
		}, http.StatusUnauthorized, protocol.ReasonChain},
		{"revoked", func(t *testing.T, ce *checkinEnv, d *checkinDevice) *tls.Certificate {
			if _, _, err := ce.st.RevokeDevice(context.Background(), d.id, "stolen", time.Now(),
				store.AuditRecord{Operation: "revoke_device", Result: resultAccepted}); err != nil {
				t.Fatal(err)
			}
			return d.tlsCert()
		}, http.StatusForbidden, ReasonDeviceInactive},
		{"locked", func(t *testing.T, ce *checkinEnv, d *checkinDevice) *tls.Certificate {
			ce.setStatus(t, d.id, store.StatusLocked, "")
			return d.tlsCert()
		}, http.StatusForbidden, ReasonDeviceInactive},
		{"wiped", func(t *testing.T, ce *checkinEnv, d *checkinDevice) *tls.Certificate {
			ce.setStatus(t, d.id, store.StatusWiped, "")
			return d.tlsCert()
		}, http.StatusForbidden, ReasonDeviceInactive},
		{"replaced", func(t *testing.T, ce *checkinEnv, d *checkinDevice) *tls.Certificate {
			ce.setStatus(t, d.id, store.StatusReplaced, ce.enrollDevice(t).id)
			return d.tlsCert()
		}, http.StatusForbidden, ReasonDeviceInactive},
		{"unknown device", func(t *testing.T, ce *checkinEnv, _ *checkinDevice) *tls.Certificate {
			key := newKey(t)
			csr := checkinCSR(t, deviceCSR(t, key, wgKey(), nil))
			id := deviceID(&x509.Certificate{URIs: csr.URIs}, tenant)
			leaf, chain, err := ce.ca.Sign(context.Background(), csr, id, time.Hour)
			if err != nil {
				t.Fatal(err)
			}
			return checkinCert(key, leaf, chain)
		}, http.StatusForbidden, ReasonDeviceInactive},
		{"another wireguard key", func(t *testing.T, ce *checkinEnv, d *checkinDevice) *tls.Certificate {
			leaf, chain, err := ce.ca.Sign(context.Background(), checkinCSR(t, deviceCSR(t, d.c.deviceKey, wgKey(), nil)), d.id, time.Hour)
			if err != nil {
				t.Fatal(err)
			}
			return checkinCert(d.c.deviceKey, leaf, chain)
		}, http.StatusForbidden, ReasonCSRWireGuard},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tun := &checkinHub{cfg: hubConfig()}
			ce := newCheckinEnv(t, tun)
			d := ce.enrollDevice(t)
			cert := tc.prep(t, ce, d)
			before := ce.audits(t)
			status, body := ce.checkIn(t, cert)
			if status != tc.status {
				t.Fatalf("status %d (%s), want %d", status, body, tc.status)
			}
			var er protocol.ErrorResponse
			if err := json.Unmarshal(body, &er); err != nil {
				t.Fatal(err)
			}
			if er.Reason != tc.reason || er.Message == "" {
				t.Errorf("answer %+v, want reason %s with a message", er, tc.reason)
			}
			if after := ce.audits(t); after != before {
				t.Errorf("a refused check-in wrote %d audit entries, want none", after-before)
			}
			dev, err := ce.st.DeviceByID(context.Background(), d.id)
			if err != nil {
				t.Fatal(err)
			}
			if len(dev.Certificates) != 1 {
				t.Errorf("a refused check-in recorded a certificate: %+v", dev.Certificates)
			}
			tun.mu.Lock()
			defer tun.mu.Unlock()
			if len(tun.ids) != 0 {
				t.Errorf("a refused check-in asked the hub for %v", tun.ids)
			}
		})
	}
}

// selfSigned is a self-signed copy of tmpl's names for key.
func selfSigned(t *testing.T, key *ecdsa.PrivateKey, tmpl *x509.Certificate) *x509.Certificate {
	t.Helper()
	c := &x509.Certificate{SerialNumber: tmpl.SerialNumber, Subject: tmpl.Subject, URIs: tmpl.URIs,
		NotBefore: tmpl.NotBefore, NotAfter: tmpl.NotAfter, KeyUsage: x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}
	der, err := x509.CreateCertificate(rand.Reader, c, c, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	out, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return out
}
