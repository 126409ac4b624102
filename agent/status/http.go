package status

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"time"
)

// Paths of the local API.
const (
	// PathStatus answers GET with the Status document.
	PathStatus = "/localapi/v0/status"
	// PathReconcile, on POST, makes the daemon reconcile at once (the
	// enroller calls it after installing a certificate).
	PathReconcile = "/localapi/v0/reconcile"
)

// Source is what the handler serves: the daemon.
type Source interface {
	Status() Status
	Trigger()
}

// Handler serves the local API for src.
func Handler(src Source) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET "+PathStatus, func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		_ = enc.Encode(src.Status())
	})
	mux.HandleFunc("POST "+PathReconcile, func(w http.ResponseWriter, _ *http.Request) {
		src.Trigger()
		w.WriteHeader(http.StatusAccepted)
	})
	return mux
}

// Serve serves the local API on l until ctx ends.
func Serve(ctx context.Context, l net.Listener, src Source) error {
	srv := &http.Server{Handler: Handler(src), ReadHeaderTimeout: 5 * time.Second}
	done := make(chan struct{})
	go func() {
		defer close(done)
		<-ctx.Done()
		sctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		_ = srv.Shutdown(sctx)
	}()
	err := srv.Serve(l)
	<-done
	if errors.Is(err, http.ErrServerClosed) {
		return nil
	}
	return err
}

// Dialer connects to the daemon's local endpoint.
type Dialer func(ctx context.Context) (net.Conn, error)

// Client talks to the daemon's local API.
type Client struct {
	hc *http.Client
}

// NewClient returns a client that reaches the daemon through dial.
func NewClient(dial Dialer) *Client {
	tr := &http.Transport{
		DialContext:       func(ctx context.Context, _, _ string) (net.Conn, error) { return dial(ctx) },
		DisableKeepAlives: true,
	}
	return &Client{hc: &http.Client{Transport: tr, Timeout: 10 * time.Second}}
}

// Get returns the daemon's status.
func (c *Client) Get(ctx context.Context) (*Status, error) {
	resp, err := c.do(ctx, http.MethodGet, PathStatus)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	var s Status
	if err := json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(&s); err != nil {
		return nil, fmt.Errorf("reading the agent's status: %w", err)
	}
	if s.Version != Version {
		return nil, fmt.Errorf("reading the agent's status: schema version %d, want %d", s.Version, Version)
	}
	return &s, nil
}

// Reconcile asks the daemon to reconcile at once.
func (c *Client) Reconcile(ctx context.Context) error {
	resp, err := c.do(ctx, http.MethodPost, PathReconcile)
	if err != nil {
		return err
	}
	resp.Body.Close()
	return nil
}

func (c *Client) do(ctx context.Context, method, path string) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, method, "http://agent"+path, nil)
	if err != nil {
		return nil, err
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return nil, fmt.Errorf("asking the agent: %w", err)
	}
	if resp.StatusCode/100 != 2 {
		resp.Body.Close()
		return nil, fmt.Errorf("asking the agent: %s %s: %s", method, path, resp.Status)
	}
	return resp, nil
}
