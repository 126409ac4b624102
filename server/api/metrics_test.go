package api

import (
	"bufio"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"testing"

	"github.com/kiwistack/endpoint/enroll/protocol"
	"github.com/kiwistack/endpoint/internal/syncbuf"
	"github.com/kiwistack/endpoint/server/metrics"
)

// TestMetricsAndJSONLogs runs a ceremony against an API with metrics and a
// JSON logger: every log line is JSON, each request has one access line
// with the documented keys, and the counters show what happened.
func TestMetricsAndJSONLogs(t *testing.T) {
	var logs syncbuf.Buffer
	log := slog.New(slog.NewJSONHandler(&logs, nil))
	e := newEnv(t, func(c *Config) {
		c.Logger = log
		c.Metrics = metrics.New(metrics.WithAccessLog(log))
	})
	c := e.begin(t)
	e.enrollOK(t, c)
	bad := e.begin(t)
	bad.signer = newKey(t)
	if status, _ := e.post(t, "/v1/enrollments?token=query-secret", ctJSON, bad.body(t)); status != http.StatusUnauthorized {
		t.Fatalf("bad signature: status %d", status)
	}

	resp, err := e.srv.Client().Get(e.srv.URL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, want := range []string{
		`kiwistack_api_challenges_total 2`,
		`kiwistack_api_enrollments_total{reason="",result="accepted"} 1`,
		`kiwistack_api_enrollments_total{reason="bad_signature",result="rejected"} 1`,
		`kiwistack_api_enrollments_total{reason="nonce_used",result="rejected"} 0`,
		`kiwistack_api_http_requests_total{code="201",method="POST",route="POST /v1/enrollments"} 1`,
		`kiwistack_api_http_requests_total{code="401",method="POST",route="POST /v1/enrollments"} 1`,
		`kiwistack_api_http_requests_total{code="201",method="POST",route="POST /v1/challenges"} 2`,
	} {
		if !strings.Contains(string(body), want) {
			t.Errorf("metrics lack %q", want)
		}
	}
	if strings.Contains(string(body), `reason="unknown_operation"`) || strings.Contains(string(body), `reason="not_ready"`) {
		t.Error("metrics pre-initialise reasons no enrollment can carry")
	}

	if strings.Contains(logs.String(), "query-secret") {
		t.Error("a query string reached the log")
	}
	access := 0
	sc := bufio.NewScanner(strings.NewReader(logs.String()))
	for sc.Scan() {
		var entry map[string]any
		if err := json.Unmarshal(sc.Bytes(), &entry); err != nil {
			t.Fatalf("log line %q is not JSON: %v", sc.Text(), err)
		}
		if entry["msg"] != "http request" {
			continue
		}
		access++
		for _, k := range []string{"time", "level", "method", "route", "path", "status", "duration_ms", "bytes", "remote"} {
			if _, ok := entry[k]; !ok {
				t.Errorf("access log line %s lacks %q", sc.Text(), k)
			}
		}
	}
	// Two challenges, two enrollments; /metrics is logged after its answer
	// was read, so it may or may not be there yet.
	if access < 4 {
		t.Errorf("%d access log lines, want one per request", access)
	}
}

// TestOperationMetrics runs an add_admin request, a rejected and two
// accepted signatures, and reads the operation counters from /metrics.
func TestOperationMetrics(t *testing.T) {
	o := newOpsEnv(t, func(c *Config) { c.Metrics = metrics.New() })
	params, _ := o.addAdminParams(t, 4000, RoleFounder)
	inst := o.mustRequest(t, protocol.OpAddAdmin, params, "")
	inst = o.mustSign(t, o.founder, inst)
	if status, _ := o.sign(t, o.founder, inst); status != http.StatusConflict {
		t.Fatalf("twice: status %d", status)
	}
	if inst = o.mustSign(t, o.sysadmin, inst); inst.State != "applied" {
		t.Fatalf("state %s", inst.State)
	}

	resp, err := o.srv.Client().Get(o.srv.URL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, want := range []string{
		`kiwistack_api_operations_total{event="requested",operation="add_admin"} 1`,
		`kiwistack_api_operations_total{event="signature_accepted",operation="add_admin"} 2`,
		`kiwistack_api_operations_total{event="signature_rejected",operation="add_admin"} 1`,
		`kiwistack_api_operations_total{event="approved",operation="add_admin"} 1`,
		`kiwistack_api_operations_total{event="applied",operation="add_admin"} 1`,
		`kiwistack_api_operation_signatures_rejected_total{reason="duplicate_key"} 1`,
	} {
		if !strings.Contains(string(body), want) {
			t.Errorf("metrics lack %q", want)
		}
	}
	if strings.Contains(string(body), `event="staged"`) || strings.Contains(string(body), `operation="other"`) {
		t.Errorf("unexpected operation series:\n%s", body)
	}
}
