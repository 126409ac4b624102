package api

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/kiwistack/endpoint/enroll/protocol"
	"github.com/kiwistack/endpoint/server/store"
)

// deviceRequest serves one request presenting leaf (and the tenant
// intermediate) as the TLS client certificate.
func (o *opsEnv) deviceRequest(t *testing.T, leaf *x509.Certificate, method, path string, body []byte) (int, []byte) {
	t.Helper()
	req := httptest.NewRequest(method, path, bytes.NewReader(body))
	if body != nil {
		req.Header.Set("Content-Type", ctJSON)
	}
	if leaf != nil {
		req.TLS = &tls.ConnectionState{PeerCertificates: []*x509.Certificate{leaf, o.pki.Intermediate}}
	}
	w := httptest.NewRecorder()
	o.h.ServeHTTP(w, req)
	return w.Code, w.Body.Bytes()
}

func TestDeviceCommands(t *testing.T) {
	_, key, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	o := newOpsEnv(t, func(c *Config) { c.CommandKey = key })
	er, leaf := o.enrolled(t, o.begin(t))
	_, other := o.enrolled(t, o.begin(t))
	pub, err := protocol.ParseCommandKey(er.Config.CommandKey)
	if err != nil || !pub.Equal(key.Public()) {
		t.Fatalf("enrollment config carries command key %q (%v)", er.Config.CommandKey, err)
	}

	before := o.audits(t)
	inst := o.mustSign(t, o.founder, o.mustRequest(t, protocol.OpRemoteLock, map[string]string{protocol.ParamDeviceID: er.DeviceID}, ""))
	if inst.State != "applied" || !strings.Contains(inst.Effect, "lock command cmd-") {
		t.Fatalf("lock: %+v", inst)
	}
	if got := results(o.lastAudit(t, int(o.audits(t)-before))); !strings.HasSuffix(got, "approved applied command_queued:"+strings.Fields(inst.Effect[strings.Index(inst.Effect, "cmd-"):])[0]) {
		t.Errorf("audit %q", got)
	}
	// The check-in refuses the locked device; the command endpoint serves it.
	if status, body := o.deviceRequest(t, leaf, http.MethodGet, protocol.PathDeviceConfig, nil); status != http.StatusForbidden {
		t.Errorf("check-in of a locked device: %d %s", status, body)
	}
	fetch := func(leaf *x509.Certificate) []protocol.SignedCommand {
		t.Helper()
		status, body := o.deviceRequest(t, leaf, http.MethodGet, protocol.PathDeviceCommands, nil)
		if status != http.StatusOK {
			t.Fatalf("commands: %d %s", status, body)
		}
		var l protocol.CommandList
		if err := json.Unmarshal(body, &l); err != nil {
			t.Fatal(err)
		}
		return l.Commands
	}
	before = o.audits(t)
	cs := fetch(leaf)
	if len(cs) != 1 {
		t.Fatalf("%d commands, want 1", len(cs))
	}
	c, err := protocol.VerifyCommand(pub, cs[0])
	if err != nil {
		t.Fatal(err)
	}
	if c.DeviceID != er.DeviceID || c.Tenant != tenant || c.Kind != protocol.CommandLock || c.OperationID != inst.ID || c.OperationDigest != inst.Digest {
		t.Errorf("command %+v", c)
	}
	if got := results(o.lastAudit(t, int(o.audits(t)-before))); got != "command_delivered" {
		t.Errorf("delivery audit %q", got)
	}
	// Fetching again serves it again (not acknowledged) without a second
	// delivery entry; another device gets nothing.
	before = o.audits(t)
	if again := fetch(leaf); len(again) != 1 || o.audits(t) != before {
		t.Errorf("second fetch: %d commands, %d audit entries", len(again), o.audits(t)-before)
	}
	if got := fetch(other); len(got) != 0 {
		t.Errorf("the other device got %d commands", len(got))
	}
	// Without a certificate: refused.
	if status, _ := o.deviceRequest(t, nil, http.MethodGet, protocol.PathDeviceCommands, nil); status != http.StatusUnauthorized {
		t.Errorf("no certificate: %d", status)
	}

	ack := []byte(`{"result":"done","message":"logins disabled, tunnel down"}`)
	path := "/v1/device/commands/" + c.ID + "/ack"
	if status, body := o.deviceRequest(t, other, http.MethodPost, path, ack); status != http.StatusNotFound || errorOf(t, body).Reason != ReasonUnknownCommand {
		t.Errorf("ack by another device: %d %s", status, body)
	}
	if status, body := o.deviceRequest(t, leaf, http.MethodPost, path, []byte(`{"result":"maybe"}`)); status != http.StatusBadRequest {
		t.Errorf("bad result: %d %s", status, body)
	}
	before = o.audits(t)
	if status, body := o.deviceRequest(t, leaf, http.MethodPost, path, ack); status != http.StatusNoContent {
		t.Fatalf("ack: %d %s", status, body)
	}
	if es := o.lastAudit(t, int(o.audits(t)-before)); results(es) != "command_acknowledged:done" || es[0].ParamsDigest != inst.Digest {
		t.Errorf("ack audit %q", results(es))
	}
	if status, body := o.deviceRequest(t, leaf, http.MethodPost, path, ack); status != http.StatusConflict || errorOf(t, body).Reason != ReasonCommandAcknowledged {
		t.Errorf("second ack: %d %s", status, body)
	}
	if got := fetch(leaf); len(got) != 0 {
		t.Errorf("%d commands after the ack", len(got))
	}
	stored, err := o.st.Commands(context.Background(), er.DeviceID)
	if err != nil || len(stored) != 1 || stored[0].State != store.CommandAcknowledged || stored[0].Result != protocol.AckDone ||
		stored[0].Message != "logins disabled, tunnel down" || stored[0].DeliveredAt.IsZero() {
		t.Errorf("stored %+v %v", stored, err)
	}

	// A command expires with the certificate lifetime.
	inst = o.mustSign(t, o.sysadmin, o.mustRequest(t, protocol.OpRemoteWipe, map[string]string{protocol.ParamDeviceID: er.DeviceID}, ""))
	if inst.State != "applied" || len(fetch(leaf)) != 1 {
		t.Fatalf("wipe: %+v", inst)
	}
	o.clock.Add(leaf.NotAfter.Sub(o.clock.Now()) + time.Second)
	if status, _ := o.deviceRequest(t, leaf, http.MethodGet, protocol.PathDeviceCommands, nil); status != http.StatusUnauthorized {
		t.Errorf("expired certificate: %d", status)
	}
}

func TestDeviceCommandsWithoutKey(t *testing.T) {
	o := newOpsEnv(t)
	er, leaf := o.enrolled(t, o.begin(t))
	if er.Config.CommandKey != "" {
		t.Errorf("command key %q without one configured", er.Config.CommandKey)
	}
	inst := o.mustSign(t, o.founder, o.mustRequest(t, protocol.OpRemoteLock, map[string]string{protocol.ParamDeviceID: er.DeviceID}, ""))
	if inst.State != "applied" || strings.Contains(inst.Effect, "command") {
		t.Fatalf("lock: %+v", inst)
	}
	status, body := o.deviceRequest(t, leaf, http.MethodGet, protocol.PathDeviceCommands, nil)
	if status != http.StatusOK || !bytes.Contains(body, []byte(`"commands":[]`)) {
		t.Errorf("commands: %d %s", status, body)
	}
}

func TestLoadOrCreateCommandKey(t *testing.T) {
	path := filepath.Join(t.TempDir(), "command.key")
	k1, err := LoadOrCreateCommandKey(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	if st, err := os.Stat(path); err != nil || st.Mode().Perm() != 0o600 {
		t.Errorf("key file %v %v, want mode 0600", st, err)
	}
	k2, err := LoadOrCreateCommandKey(path, nil)
	if err != nil || !k1.Equal(k2) {
		t.Errorf("second load: %v, same key %v", err, k1.Equal(k2))
	}
	if err := os.WriteFile(path, []byte("junk"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadOrCreateCommandKey(path, nil); err == nil {
		t.Error("a damaged key file was accepted")
	}
}
