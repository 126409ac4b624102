package api

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/kiwistack/endpoint/enroll/protocol"
	"github.com/kiwistack/endpoint/server/policy"
)

func TestNewRejectsIncompleteConfig(t *testing.T) {
	e := newEnv(t)
	full := Config{Tenant: tenant, Store: e.st, CA: e.ca, Intermediate: e.ca.Intermediate()}
	for name, change := range map[string]func(*Config){
		"no tenant":       func(c *Config) { c.Tenant = "" },
		"no store":        func(c *Config) { c.Store = nil },
		"no ca":           func(c *Config) { c.CA = nil },
		"no intermediate": func(c *Config) { c.Intermediate = nil },
		"two signers for enroll_device": func(c *Config) {
			p := policy.Default(tenant)
			op := p.Operations["enroll_device"]
			op.SigsRequired = 2
			p.Operations["enroll_device"] = op
			c.Policy = p
		},
		"another tenant's policy": func(c *Config) { c.Policy = policy.Default("globex") },
	} {
		cfg := full
		change(&cfg)
		if _, err := New(cfg); err == nil {
			t.Errorf("%s: New succeeded", name)
		}
	}
	if _, err := New(full); err != nil {
		t.Errorf("full config: %v", err)
	}
}

func TestPolicyRoleIsApplied(t *testing.T) {
	e := newEnv(t, func(c *Config) {
		p := policy.Default(tenant)
		op := p.Operations["enroll_device"]
		op.Role = RoleFounder
		p.Operations["enroll_device"] = op
		c.Policy = p
	})
	c := e.begin(t)
	if got := c.challenge.RequiredRoles; len(got) != 1 || got[0] != RoleFounder {
		t.Fatalf("required roles %v, want [founder]", got)
	}
	status, resp := e.post(t, "/v1/enrollments", ctJSON, c.body(t))
	var er protocol.ErrorResponse
	_ = json.Unmarshal(resp, &er)
	if status != http.StatusForbidden || er.Reason != ReasonRoleInsufficient {
		t.Fatalf("sysadmin under a founder policy: %d %s", status, resp)
	}
	f := e.addAdmin(t, 3000, RoleFounder, tenant)
	c = e.begin(t)
	c.signer, c.chain, c.stmt.YubiKeySerial = f.key, c.chain[:0], f.serial
	c.chain = append(c.chain, f.cert)
	if status, resp := e.post(t, "/v1/enrollments", ctJSON, c.body(t)); status != http.StatusCreated {
		t.Fatalf("founder: %d %s", status, resp)
	}
}

func TestChallenge(t *testing.T) {
	var logs bytes.Buffer
	now := time.Date(2026, 11, 28, 6, 0, 0, 0, time.UTC)
	e := newEnv(t, func(c *Config) {
		c.Now = func() time.Time { return now }
		c.Logger = slog.New(slog.NewJSONHandler(&logs, nil))
	})
	c := e.begin(t)
	if c.challenge.ExpiresAt != "2026-11-28T06:05:00Z" || c.challenge.Tenant != tenant || c.challenge.Operation != protocol.OpEnrollDevice {
		t.Errorf("challenge %+v", c.challenge)
	}
	n, err := e.st.LookupNonce(context.Background(), c.challenge.Nonce)
	if err != nil {
		t.Fatal(err)
	}
	if n.Digest != c.challenge.Digest || n.Operation != protocol.OpEnrollDevice || !n.ExpiresAt.Equal(now.Add(ChallengeLifetime)) {
		t.Errorf("stored nonce %+v does not match challenge %+v", n, c.challenge)
	}
	if c2 := e.begin(t); c2.challenge.Nonce == c.challenge.Nonce {
		t.Error("two challenges share a nonce")
	}
	params := map[string]string{
		protocol.ParamHardwareFingerprint: "hw",
		protocol.ParamDeviceKeySHA256:     c.stmt.DeviceKeySHA256,
		protocol.ParamWireGuardPublicKey:  c.wgKey,
	}
	body := func(op, ten string, p map[string]string) []byte {
		b, _ := json.Marshal(protocol.ChallengeRequest{Operation: op, Tenant: ten, Params: p})
		return b
	}
	for _, tc := range []struct {
		name, ctype string
		body        []byte
		status      int
		reason      string
	}{
		{"wrong tenant", ctJSON, body(protocol.OpEnrollDevice, "globex", params), 403, ReasonTenantMismatch},
		{"unknown operation", ctJSON, body("remote_wipe", tenant, map[string]string{"device_id": "d-1"}), 400, ReasonUnknownOperation},
		{"missing parameter", ctJSON, body(protocol.OpEnrollDevice, tenant, map[string]string{"hardware_fingerprint": "hw"}), 400, protocol.ReasonMalformed},
		{"unknown field", ctJSON, []byte(`{"operation":"enroll_device","tenant":"acme","params":{},"x":1}`), 400, protocol.ReasonMalformed},
		{"wrong content type", "text/plain", body(protocol.OpEnrollDevice, tenant, params), 415, ReasonMediaType},
	} {
		status, resp := e.post(t, "/v1/challenges", tc.ctype, tc.body)
		var er protocol.ErrorResponse
		if err := json.Unmarshal(resp, &er); err != nil || status != tc.status || er.Reason != tc.reason || er.Message == "" {
			t.Errorf("%s: %d %s, want %d %s", tc.name, status, resp, tc.status, tc.reason)
		}
	}
	if !bytes.Contains(logs.Bytes(), []byte(`"reason":"tenant_mismatch"`)) {
		t.Errorf("rejection not logged: %s", logs.String())
	}
}

func TestHealth(t *testing.T) {
	e := newEnv(t)
	for _, path := range []string{"/healthz", "/readyz"} {
		resp, err := e.srv.Client().Get(e.srv.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Errorf("%s: %d", path, resp.StatusCode)
		}
	}
	if err := e.st.Close(); err != nil {
		t.Fatal(err)
	}
	rec := httptest.NewRecorder()
	e.h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/readyz", nil))
	var er protocol.ErrorResponse
	if err := json.Unmarshal(rec.Body.Bytes(), &er); err != nil || rec.Code != http.StatusServiceUnavailable || er.Reason != ReasonNotReady {
		t.Errorf("readyz with the store closed: %d %s", rec.Code, rec.Body)
	}
	rec = httptest.NewRecorder()
	e.h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/healthz", nil))
	if rec.Code != http.StatusOK {
		t.Errorf("healthz with the store closed: %d", rec.Code)
	}
}
