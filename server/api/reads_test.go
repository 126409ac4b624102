package api

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/kiwistack/endpoint/enroll/protocol"
)

// readGrant is an applied read_audit or read_status and its one-time key.
type readGrant struct {
	id  string
	key ed25519.PrivateKey
}

// grant requests op (read_audit or read_status) for a new one-time key
// and has the office manager sign it (any roster key signs a read).
func (o *opsEnv) grant(t *testing.T, op string) *readGrant {
	t.Helper()
	pub, key, _ := ed25519.GenerateKey(rand.Reader)
	inst := o.mustRequest(t, op, map[string]string{protocol.ParamReaderKey: protocol.EncodeReaderKey(pub)}, "")
	if inst = o.mustSign(t, o.office, inst); inst.State != "applied" {
		t.Fatalf("%s: %+v", op, inst)
	}
	return &readGrant{id: inst.ID, key: key}
}

// read sends GET path with g's Authorization (none when g is nil), signed
// at the env's clock shifted by skew.
func (o *opsEnv) read(t *testing.T, g *readGrant, path string, skew time.Duration) (int, []byte) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, o.srv.URL+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	if g != nil {
		ts := o.clock.Now().Add(skew).Unix()
		sig := ed25519.Sign(g.key, protocol.ReadGrantMessage(tenant, http.MethodGet, path, ts))
		req.Header.Set("Authorization", protocol.ReadAuthorization(g.id, ts, sig))
	}
	resp, err := o.srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, body
}

// TestReadGrants: the audit log and the operation list are read only with
// an applied grant of the right kind, signed by its own one-time key, for
// this request, now, within the grant's lifetime.
func TestReadGrants(t *testing.T) {
	o := newOpsEnv(t)
	audit := o.grant(t, protocol.OpReadAudit)
	status := o.grant(t, protocol.OpReadStatus)
	if code, body := o.read(t, audit, "/v1/audit?after=0", 0); code != http.StatusOK {
		t.Fatalf("granted audit read: %d %s", code, body)
	}
	if code, body := o.read(t, status, "/v1/operations", 0); code != http.StatusOK {
		t.Fatalf("granted status read: %d %s", code, body)
	}

	pub, _, _ := ed25519.GenerateKey(rand.Reader)
	pending := o.mustRequest(t, protocol.OpReadAudit, map[string]string{protocol.ParamReaderKey: protocol.EncodeReaderKey(pub)}, "")
	_, otherKey, _ := ed25519.GenerateKey(rand.Reader)
	for _, tc := range []struct {
		name   string
		g      *readGrant
		path   string
		skew   time.Duration
		header string
		status int
		reason string
	}{
		{"no grant", nil, "/v1/audit", 0, "", 401, ReasonReadGrantMissing},
		{"garbage header", nil, "/v1/audit", 0, "Bearer x", 401, ReasonReadGrantInvalid},
		{"unknown operation", &readGrant{id: "op-nope", key: audit.key}, "/v1/audit", 0, "", 403, ReasonReadGrantInvalid},
		{"grant not signed yet", &readGrant{id: pending.ID, key: audit.key}, "/v1/audit", 0, "", 403, ReasonReadGrantInvalid},
		{"status grant for the audit log", status, "/v1/audit", 0, "", 403, ReasonReadGrantInvalid},
		{"audit grant for the list", audit, "/v1/operations", 0, "", 403, ReasonReadGrantInvalid},
		{"another key", &readGrant{id: audit.id, key: otherKey}, "/v1/audit", 0, "", 403, ReasonReadGrantInvalid},
		{"stale timestamp", audit, "/v1/audit", -2 * time.Minute, "", 403, ReasonReadGrantInvalid},
		{"another operation kind", &readGrant{id: o.mustRequest(t, protocol.OpBurnKey, map[string]string{"serial": "3000"}, "").ID, key: audit.key},
			"/v1/audit", 0, "", 403, ReasonReadGrantInvalid},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var code int
			var body []byte
			if tc.header != "" {
				req, _ := http.NewRequest(http.MethodGet, o.srv.URL+tc.path, nil)
				req.Header.Set("Authorization", tc.header)
				resp, err := o.srv.Client().Do(req)
				if err != nil {
					t.Fatal(err)
				}
				body, _ = io.ReadAll(resp.Body)
				resp.Body.Close()
				code = resp.StatusCode
			} else {
				code, body = o.read(t, tc.g, tc.path, tc.skew)
			}
			var er protocol.ErrorResponse
			_ = json.Unmarshal(body, &er)
			if code != tc.status || er.Reason != tc.reason {
				t.Errorf("%d %s, want %d %s", code, body, tc.status, tc.reason)
			}
		})
	}
	// A signature for one request does not read another.
	req, _ := http.NewRequest(http.MethodGet, o.srv.URL+"/v1/audit?after=1", nil)
	ts := o.clock.Now().Unix()
	req.Header.Set("Authorization", protocol.ReadAuthorization(audit.id, ts,
		ed25519.Sign(audit.key, protocol.ReadGrantMessage(tenant, http.MethodGet, "/v1/audit?after=0", ts))))
	if resp, err := o.srv.Client().Do(req); err != nil || resp.StatusCode != http.StatusForbidden {
		t.Errorf("signature of another query accepted: %v %v", resp, err)
	} else {
		resp.Body.Close()
	}
	// The grant ends.
	o.clock.Add(protocol.ReadGrantLifetime + time.Second)
	if code, body := o.read(t, audit, "/v1/audit", 0); code != http.StatusForbidden || !strings.Contains(string(body), ReasonReadGrantExpired) {
		t.Errorf("expired grant: %d %s", code, body)
	}
	// A reader key that is not one is refused before anyone signs.
	if code, body := o.request(t, protocol.OpReadAudit, map[string]string{protocol.ParamReaderKey: "abc"}, ""); code != http.StatusBadRequest {
		t.Errorf("bad reader key: %d %s", code, body)
	}
}
