package metrics

import (
	"bufio"
	"bytes"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
)

// value returns the value of the counter or gauge c, which must hold one
// series.
func value(t *testing.T, c prometheus.Collector) float64 {
	t.Helper()
	ch := make(chan prometheus.Metric, 1)
	c.Collect(ch)
	var m dto.Metric
	if err := (<-ch).Write(&m); err != nil {
		t.Fatal(err)
	}
	if m.Counter != nil {
		return m.Counter.GetValue()
	}
	return m.Gauge.GetValue()
}

// series counts the series c holds.
func series(c prometheus.Collector) int {
	ch := make(chan prometheus.Metric, 100)
	c.Collect(ch)
	close(ch)
	return len(ch)
}

// newMux is a small API: one route that writes a body, one that only sets
// a status.
func newMux() *http.ServeMux {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /v1/things/{id}", func(w http.ResponseWriter, _ *http.Request) {
		w.WriteHeader(http.StatusCreated)
		_, _ = io.WriteString(w, `{"ok":true}`)
	})
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		_, _ = io.WriteString(w, "ok")
	})
	return mux
}

func TestWrapRecordsRoutesNotPaths(t *testing.T) {
	var logs bytes.Buffer
	m := New(WithAccessLog(slog.New(slog.NewJSONHandler(&logs, nil))))
	h := m.Wrap(newMux())
	for _, tc := range []struct {
		method, target string
		status         int
	}{
		{"POST", "/v1/things/a?token=secret", 201},
		{"POST", "/v1/things/b", 201},
		{"GET", "/healthz", 200},
		{"GET", "/nothing/here", 404},
		{"DELETE", "/healthz", 405},
	} {
		req := httptest.NewRequest(tc.method, tc.target, strings.NewReader("body-secret"))
		req.Header.Set("Authorization", "Bearer header-secret")
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != tc.status {
			t.Fatalf("%s %s: status %d, want %d", tc.method, tc.target, rec.Code, tc.status)
		}
	}
	for _, tc := range []struct {
		labels []string
		want   float64
	}{
		{[]string{"POST /v1/things/{id}", "POST", "201"}, 2},
		{[]string{"GET /healthz", "GET", "200"}, 1},
		{[]string{RouteUnmatched, "GET", "404"}, 1},
		{[]string{RouteUnmatched, "DELETE", "405"}, 1},
	} {
		if got := value(t, m.requests.WithLabelValues(tc.labels...)); got != tc.want {
			t.Errorf("requests%v = %v, want %v", tc.labels, got, tc.want)
		}
	}
	if n := series(m.duration); n != 4 {
		t.Errorf("%d latency series, want 4 (one per route and method)", n)
	}
	if got := value(t, m.inFlight); got != 0 {
		t.Errorf("in flight %v after all requests, want 0", got)
	}

	// One JSON line per request with the documented keys, and no secrets.
	if strings.Contains(logs.String(), "secret") {
		t.Errorf("access log leaks a query string, body or header:\n%s", logs.String())
	}
	sc := bufio.NewScanner(&logs)
	lines := 0
	for sc.Scan() {
		lines++
		var entry map[string]any
		if err := json.Unmarshal(sc.Bytes(), &entry); err != nil {
			t.Fatalf("log line %q is not JSON: %v", sc.Text(), err)
		}
		for _, k := range []string{"time", "level", "msg", "method", "route", "path", "status", "duration_ms", "bytes", "remote"} {
			if _, ok := entry[k]; !ok {
				t.Errorf("log line %s has no %q", sc.Text(), k)
			}
		}
	}
	if lines != 5 {
		t.Errorf("%d log lines, want 5", lines)
	}
}

func TestEnrollmentCounters(t *testing.T) {
	m := New()
	m.InitReasons("nonce_used", "bad_signature")
	m.ChallengeIssued()
	m.EnrollmentAccepted()
	m.EnrollmentRejected("nonce_used")
	m.EnrollmentRejected("nonce_used")

	rec := httptest.NewRecorder()
	m.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	if rec.Code != http.StatusOK || !strings.HasPrefix(rec.Header().Get("Content-Type"), "text/plain") {
		t.Fatalf("metrics: %d %s", rec.Code, rec.Header().Get("Content-Type"))
	}
	body := rec.Body.String()
	for _, want := range []string{
		`kiwistack_api_challenges_total 1`,
		`kiwistack_api_enrollments_total{reason="",result="accepted"} 1`,
		`kiwistack_api_enrollments_total{reason="nonce_used",result="rejected"} 2`,
		`kiwistack_api_enrollments_total{reason="bad_signature",result="rejected"} 0`,
		`kiwistack_api_http_requests_in_flight 0`,
		`go_goroutines `,
		`process_start_time_seconds `,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("metrics output lacks %q", want)
		}
	}
}

func TestNilMetrics(t *testing.T) {
	var m *Metrics
	m.ChallengeIssued()
	m.EnrollmentAccepted()
	m.EnrollmentRejected("x")
	m.InitReasons("x")
	m.InitOperations("x")
	m.InitSignatureReasons("x")
	m.OperationEvent("x", EventRequested)
	m.OperationSignatureRejected("x", "y")
	h := newMux()
	if got := m.Wrap(h); got != http.Handler(h) {
		t.Error("a nil *Metrics must return the handler unchanged")
	}
}

func TestOperationCounters(t *testing.T) {
	m := New()
	m.InitOperations("add_admin", "burn_key")
	m.InitSignatureReasons("duplicate_key", "wrong_digest")
	m.OperationEvent("add_admin", EventRequested)
	m.OperationEvent("add_admin", EventSignatureAccepted)
	m.OperationEvent("add_admin", EventSignatureAccepted)
	m.OperationEvent("add_admin", EventApproved)
	m.OperationEvent("not_in_policy", EventRequested)
	m.OperationSignatureRejected("burn_key", "duplicate_key")
	m.OperationSignatureRejected("evil\nname", "wrong_digest")

	mfs, err := m.reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]float64{}
	for _, mf := range mfs {
		name := mf.GetName()
		if name != "kiwistack_api_operations_total" && name != "kiwistack_api_operation_signatures_rejected_total" {
			continue
		}
		for _, mt := range mf.GetMetric() {
			key := name
			for _, l := range mt.GetLabel() {
				key += " " + l.GetName() + "=" + l.GetValue()
			}
			got[key] = mt.GetCounter().GetValue()
		}
	}
	want := map[string]float64{
		"kiwistack_api_operations_total event=requested operation=add_admin":          1,
		"kiwistack_api_operations_total event=signature_accepted operation=add_admin": 2,
		"kiwistack_api_operations_total event=approved operation=add_admin":           1,
		"kiwistack_api_operations_total event=requested operation=other":              1,
		"kiwistack_api_operations_total event=signature_rejected operation=burn_key":  1,
		"kiwistack_api_operations_total event=signature_rejected operation=other":     1,
		"kiwistack_api_operation_signatures_rejected_total reason=duplicate_key":      1,
		"kiwistack_api_operation_signatures_rejected_total reason=wrong_digest":       1,
	}
	if len(got) != len(want) {
		t.Errorf("series: got %v, want %v", got, want)
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s = %v, want %v", k, got[k], v)
		}
	}
}
