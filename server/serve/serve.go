package serve

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/kiwistack/endpoint/enroll/protocol"
	"github.com/kiwistack/endpoint/server/api"
	"github.com/kiwistack/endpoint/server/ca"
	"github.com/kiwistack/endpoint/server/hub"
	"github.com/kiwistack/endpoint/server/metrics"
	"github.com/kiwistack/endpoint/server/store"
)

// Both CA clients serve the API.
var (
	_ api.CA = (*ca.Embedded)(nil)
	_ api.CA = (*ca.Remote)(nil)
)

// ShutdownTimeout bounds the graceful shutdown after the context of Serve
// is cancelled.
const ShutdownTimeout = 5 * time.Second

// Site is one tenant API on one TLS listener, whatever its CA.
type Site struct {
	// API configures server/api; Serve fills in Store (opened from
	// DBPath) and, when nil, Logger and Metrics (Prometheus at /metrics
	// and an access log).
	API api.Config
	// DBPath is the SQLite store (server/store), created if missing.
	DBPath string
	// CAHandler, when set, serves every path the API does not own (step-ca's
	// own routes, for the embedded CA); otherwise those paths are the API's
	// 404s.
	CAHandler http.Handler
	// TLS is the listener's TLS configuration (certificates, client
	// authentication).
	TLS *tls.Config
	// Ready, when set, is an extra readiness check for /readyz (e.g. the
	// external step-ca's health); the store is always checked.
	Ready func(context.Context) error
	// Logger receives the server's logs; discarded when nil.
	Logger *slog.Logger
	// Hub, when set, runs the WireGuard hub (server/hub) over the store
	// that Serve opens: it syncs at start, after every API request (a
	// cheap, coalesced poke, so that a revocation made by another process
	// reaches the interface with the next request), at each certificate
	// expiry and every Hub.Resync (at most 30 s by default).
	Hub *hub.Options
}

// apiPaths are the paths the API owns when a CA handler takes the rest.
var apiPaths = []string{"/v1/", "/healthz", "/readyz", "/metrics"}

// Serve opens the store, builds the API and serves it on ln with TLS until
// ctx is cancelled, then shuts down gracefully (ShutdownTimeout) and returns
// nil. started, when set, is called once the server accepts connections.
// ln is closed when Serve returns.
func Serve(ctx context.Context, ln net.Listener, s Site, started func()) error {
	defer ln.Close()
	if s.Logger == nil {
		s.Logger = slog.New(slog.DiscardHandler)
	}
	if s.TLS == nil {
		return errors.New("serving: no tls configuration")
	}
	st, err := store.Open(ctx, s.DBPath)
	if err != nil {
		return fmt.Errorf("serving: %w", err)
	}
	defer st.Close()
	cfg := s.API
	cfg.Store = st
	if cfg.Logger == nil {
		cfg.Logger = s.Logger
	}
	if cfg.Metrics == nil {
		// /metrics and one JSON access-log line per request.
		cfg.Metrics = metrics.New(metrics.WithAccessLog(cfg.Logger))
	}
	var tunnel *hub.Hub
	if s.Hub != nil {
		ho := *s.Hub
		ho.Store = st
		if ho.Logger == nil {
			ho.Logger = s.Logger
		}
		if tunnel, err = hub.New(ho); err != nil {
			return fmt.Errorf("serving: %w", err)
		}
		cfg.Tunnel = tunnel
		hubCtx, stopHub := context.WithCancel(ctx)
		defer stopHub()
		go tunnel.Run(hubCtx)
	}
	apiHandler, err := api.New(cfg)
	if err != nil {
		return fmt.Errorf("serving: %w", err)
	}
	tickCtx, stopTick := context.WithCancel(ctx)
	defer stopTick()
	go tickOperations(tickCtx, apiHandler, s.Logger)
	mux := http.NewServeMux()
	if s.CAHandler != nil {
		for _, p := range apiPaths {
			mux.Handle(p, apiHandler)
		}
		mux.Handle("/", s.CAHandler)
	} else {
		mux.Handle("/", apiHandler)
	}
	if s.Ready != nil {
		mux.Handle("/readyz", readyz(s.Ready, apiHandler, s.Logger))
	}
	var handler http.Handler = mux
	if tunnel != nil {
		handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			tunnel.Poke()
			mux.ServeHTTP(w, r)
		})
	}
	srv := &http.Server{
		Handler:           handler,
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       2 * time.Minute,
		ErrorLog:          slog.NewLogLogger(s.Logger.Handler(), slog.LevelWarn),
		TLSConfig:         s.TLS,
	}
	served := make(chan error, 1)
	go func() { served <- srv.ServeTLS(ln, "", "") }()
	if started != nil {
		started()
	}
	select {
	case err := <-served:
		return fmt.Errorf("serving: %w", err)
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), ShutdownTimeout)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		return fmt.Errorf("shutting down: %w", err)
	}
	return nil
}

// readyz answers 503 when check fails and otherwise lets the API check its
// store.
func readyz(check func(context.Context) error, next http.Handler, log *slog.Logger) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet {
			next.ServeHTTP(w, r)
			return
		}
		ctx, cancel := context.WithTimeout(r.Context(), 5*time.Second)
		defer cancel()
		if err := check(ctx); err != nil {
			log.Error("readiness check failed", "err", err)
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusServiceUnavailable)
			_ = json.NewEncoder(w).Encode(protocol.ErrorResponse{Reason: api.ReasonNotReady,
				Message: "step-ca is not reachable; check the server's log and step-ca"})
			return
		}
		next.ServeHTTP(w, r)
	})
}
