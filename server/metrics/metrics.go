// Package metrics owns the tenant API's Prometheus metrics and its access
// log: a registry of its own (never the global default) with the Go runtime
// and process collectors, counters of requests, challenges and enrollments
// by result and reason, operation events by operation and rejected
// operation signatures by reason, a latency histogram, an in-flight gauge, an HTTP
// middleware that records them and writes one structured log line per
// request, and the handler that serves the registry.
//
// It does not decide what a request means or which reason codes exist: the
// API tells it (server/api). Labels are bounded by construction: the route
// label is the matched ServeMux pattern, never the raw path, and the access
// log carries no query string, body or header.
package metrics

import (
	"log/slog"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Namespace and subsystem of every metric of this package.
const (
	namespace = "kiwistack"
	subsystem = "api"
)

// Label values of kiwistack_api_enrollments_total{result}.
const (
	ResultAccepted = "accepted"
	ResultRejected = "rejected"
)

// Label values of kiwistack_api_operations_total{event}: the hops of an
// operation instance.
const (
	EventRequested         = "requested"
	EventSignatureAccepted = "signature_accepted"
	EventSignatureRejected = "signature_rejected"
	EventApproved          = "approved"
	EventStaged            = "staged"
	EventApplied           = "applied"
	EventCancelled         = "cancelled"
	EventExpired           = "expired"
	EventRejected          = "rejected"
)

// OperationOther is the operation label of an operation name that
// InitOperations was not given.
const OperationOther = "other"

// RouteUnmatched is the route label of a request no pattern matched (404,
// 405).
const RouteUnmatched = "unmatched"

// DurationBuckets are the upper bounds, in seconds, of the request latency
// histogram: 1 ms to 10 s.
var DurationBuckets = []float64{0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10}

// Metrics is the API's metrics registry and middleware. A nil *Metrics is
// valid: its recording methods do nothing.
type Metrics struct {
	reg         *prometheus.Registry
	requests    *prometheus.CounterVec
	duration    *prometheus.HistogramVec
	inFlight    prometheus.Gauge
	enrollments *prometheus.CounterVec
	challenges  prometheus.Counter
	operations  *prometheus.CounterVec
	opSigsRej   *prometheus.CounterVec
	log         *slog.Logger

	// mu guards knownOps, the operation names that are their own label
	// value.
	mu       sync.RWMutex
	knownOps map[string]bool
}

// Option configures New.
type Option func(*Metrics)

// WithAccessLog makes Wrap write one Info line per request to l: method,
// route, path, status, duration_ms, bytes and remote. Without it (or with
// nil) Wrap logs nothing.
func WithAccessLog(l *slog.Logger) Option {
	return func(m *Metrics) { m.log = l }
}

// New returns a registry holding the API's metrics and the Go runtime and
// process collectors.
func New(opts ...Option) *Metrics {
	m := &Metrics{
		reg: prometheus.NewRegistry(),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: namespace, Subsystem: subsystem, Name: "http_requests_total",
			Help: "HTTP requests answered, by matched route pattern, method and status code.",
		}, []string{"route", "method", "code"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: namespace, Subsystem: subsystem, Name: "http_request_duration_seconds",
			Help:    "Time to answer an HTTP request, by matched route pattern and method.",
			Buckets: DurationBuckets,
		}, []string{"route", "method"}),
		inFlight: prometheus.NewGauge(prometheus.GaugeOpts{
			Namespace: namespace, Subsystem: subsystem, Name: "http_requests_in_flight",
			Help: "HTTP requests being answered.",
		}),
		enrollments: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: namespace, Subsystem: subsystem, Name: "enrollments_total",
			Help: "Enrollment requests by result (accepted, rejected) and reason code (empty when accepted).",
		}, []string{"result", "reason"}),
		challenges: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: namespace, Subsystem: subsystem, Name: "challenges_total",
			Help: "Challenges issued.",
		}),
		operations: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: namespace, Subsystem: subsystem, Name: "operations_total",
			Help: "Operation events (requested, signature_accepted, signature_rejected, approved, staged, applied, cancelled, expired, rejected) by operation name.",
		}, []string{"operation", "event"}),
		opSigsRej: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: namespace, Subsystem: subsystem, Name: "operation_signatures_rejected_total",
			Help: "Signatures of operations rejected, by reason code.",
		}, []string{"reason"}),
		knownOps: map[string]bool{},
	}
	for _, o := range opts {
		o(m)
	}
	m.reg.MustRegister(
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		m.requests, m.duration, m.inFlight, m.enrollments, m.challenges,
		m.operations, m.opSigsRej,
	)
	m.enrollments.WithLabelValues(ResultAccepted, "")
	return m
}

// InitReasons creates the rejected-enrollment series of each reason at 0,
// so that dashboards and alerts see them before the first rejection.
func (m *Metrics) InitReasons(reasons ...string) {
	if m == nil {
		return
	}
	for _, r := range reasons {
		m.enrollments.WithLabelValues(ResultRejected, r)
	}
}

// InitOperations declares operation names (those of the tenant's policy)
// as label values of kiwistack_api_operations_total; any other name is
// counted as OperationOther, so that the series count stays bounded. It
// adds to the names of earlier calls.
func (m *Metrics) InitOperations(names ...string) {
	if m == nil {
		return
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, n := range names {
		m.knownOps[n] = true
	}
}

// InitSignatureReasons creates the rejected-signature series of each
// reason at 0.
func (m *Metrics) InitSignatureReasons(reasons ...string) {
	if m == nil {
		return
	}
	for _, r := range reasons {
		m.opSigsRej.WithLabelValues(r)
	}
}

// operationLabel is name when InitOperations declared it, else
// OperationOther.
func (m *Metrics) operationLabel(name string) string {
	m.mu.RLock()
	defer m.mu.RUnlock()
	if m.knownOps[name] {
		return name
	}
	return OperationOther
}

// OperationEvent counts one event (one of the Event constants) of an
// instance of operation. event must come from that fixed set.
func (m *Metrics) OperationEvent(operation, event string) {
	if m == nil {
		return
	}
	m.operations.WithLabelValues(m.operationLabel(operation), event).Inc()
}

// OperationSignatureRejected counts one rejected signature of an instance
// of operation: the EventSignatureRejected event and the reason code.
// reason must come from a fixed set (the API's reason codes).
func (m *Metrics) OperationSignatureRejected(operation, reason string) {
	if m == nil {
		return
	}
	m.operations.WithLabelValues(m.operationLabel(operation), EventSignatureRejected).Inc()
	m.opSigsRej.WithLabelValues(reason).Inc()
}

// ChallengeIssued counts one issued challenge.
func (m *Metrics) ChallengeIssued() {
	if m == nil {
		return
	}
	m.challenges.Inc()
}

// EnrollmentAccepted counts one accepted enrollment.
func (m *Metrics) EnrollmentAccepted() {
	if m == nil {
		return
	}
	m.enrollments.WithLabelValues(ResultAccepted, "").Inc()
}

// EnrollmentRejected counts one rejected enrollment with its reason code.
// reason must come from a fixed set (the API's reason codes), never from
// the request.
func (m *Metrics) EnrollmentRejected(reason string) {
	if m == nil {
		return
	}
	m.enrollments.WithLabelValues(ResultRejected, reason).Inc()
}

// Handler serves the registry in the Prometheus text exposition format
// (or protobuf when a scraper asks for it).
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{Registry: m.reg})
}

// Wrap returns h recording every request's count, latency and status, and
// writing the access log line when New was given WithAccessLog. The route
// label is the pattern a ServeMux matched (http.Request.Pattern, which the
// mux sets on the request it is given): h must be, or pass the same
// *http.Request to, that ServeMux. Requests no pattern matched are labelled
// RouteUnmatched. A nil *Metrics returns h unchanged.
func (m *Metrics) Wrap(h http.Handler) http.Handler {
	if m == nil {
		return h
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		m.inFlight.Inc()
		defer m.inFlight.Dec()
		rw := &recorder{ResponseWriter: w}
		defer func() {
			// Recorded even when h panics (http.ErrAbortHandler): the
			// panic goes on after this deferred call.
			d := time.Since(start)
			route := r.Pattern
			if route == "" {
				route = RouteUnmatched
			}
			status := rw.status
			if status == 0 {
				status = http.StatusOK
			}
			m.requests.WithLabelValues(route, r.Method, strconv.Itoa(status)).Inc()
			m.duration.WithLabelValues(route, r.Method).Observe(d.Seconds())
			if m.log != nil {
				m.log.LogAttrs(r.Context(), slog.LevelInfo, "http request",
					slog.String("method", r.Method),
					slog.String("route", route),
					slog.String("path", r.URL.Path),
					slog.Int("status", status),
					slog.Float64("duration_ms", float64(d.Microseconds())/1000),
					slog.Int64("bytes", rw.bytes),
					slog.String("remote", r.RemoteAddr),
				)
			}
		}()
		h.ServeHTTP(rw, r)
	})
}

// recorder remembers the status and the number of body bytes written.
type recorder struct {
	http.ResponseWriter
	status int
	bytes  int64
}

// WriteHeader implements http.ResponseWriter.
func (rw *recorder) WriteHeader(code int) {
	if rw.status == 0 && code >= 200 {
		rw.status = code
	}
	rw.ResponseWriter.WriteHeader(code)
}

// Write implements http.ResponseWriter.
func (rw *recorder) Write(b []byte) (int, error) {
	if rw.status == 0 {
		rw.status = http.StatusOK
	}
	n, err := rw.ResponseWriter.Write(b)
	rw.bytes += int64(n)
	return n, err
}

// Unwrap returns the underlying writer, for http.ResponseController.
func (rw *recorder) Unwrap() http.ResponseWriter { return rw.ResponseWriter }
