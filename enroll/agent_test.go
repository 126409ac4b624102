//go:build !windows

package enroll

import (
	"context"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/kiwistack/endpoint/agent/status"
	"github.com/kiwistack/endpoint/platform/localsock"
)

// triggers is an agent that counts reconcile requests.
type triggers struct{ n atomic.Int32 }

func (*triggers) Status() status.Status { return status.Status{Version: status.Version} }
func (t *triggers) Trigger()            { t.n.Add(1) }

// listenAgent listens on the default socket under a temporary --root.
func listenAgent(t *testing.T) (root string, l net.Listener) {
	t.Helper()
	root = t.TempDir()
	l, err := localsock.Listen(localsock.DefaultPath(root))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	return root, l
}

func TestPokeAgent(t *testing.T) {
	for _, tc := range []struct {
		name string
		// agent serves the socket under root, or leaves it alone.
		agent     func(t *testing.T) (root string, src *triggers)
		want      string
		triggered int32
	}{
		{"running agent", func(t *testing.T) (string, *triggers) {
			root, l := listenAgent(t)
			src := &triggers{}
			ctx, cancel := context.WithCancel(context.Background())
			done := make(chan error, 1)
			go func() { done <- status.Serve(ctx, l, src) }()
			t.Cleanup(func() {
				cancel()
				if err := <-done; err != nil {
					t.Errorf("serving: %v", err)
				}
			})
			return root, src
		}, "the running agent was asked to bring the tunnel up now", 1},
		{"no agent", func(t *testing.T) (string, *triggers) {
			return t.TempDir(), nil
		}, "no agent is running; " + whenAgentStarts, 0},
		{"stale socket of a killed agent", func(t *testing.T) (string, *triggers) {
			root, l := listenAgent(t)
			l.(*net.UnixListener).SetUnlinkOnClose(false)
			l.Close()
			return root, nil
		}, "no agent is running; " + whenAgentStarts, 0},
		{"agent that does not answer", func(t *testing.T) (string, *triggers) {
			root, l := listenAgent(t)
			conns := make(chan net.Conn, 16)
			t.Cleanup(func() {
				l.Close()
				for c := range conns {
					c.Close()
				}
			})
			go func() {
				defer close(conns)
				for {
					c, err := l.Accept()
					if err != nil {
						return
					}
					conns <- c
				}
			}()
			return root, nil
		}, whenAgentStarts, 0},
		{"agent that refuses", func(t *testing.T) (string, *triggers) {
			root, l := listenAgent(t)
			srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
				http.Error(w, "busy", http.StatusServiceUnavailable)
			})}
			go func() { _ = srv.Serve(l) }()
			t.Cleanup(func() { srv.Close() })
			return root, nil
		}, "503 Service Unavailable", 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			root, src := tc.agent(t)
			start := time.Now()
			got := pokeAgent(context.Background(), localsock.DefaultPath(root))
			if d := time.Since(start); d > agentPokeTimeout+500*time.Millisecond {
				t.Errorf("the poke took %s, want at most about %s", d, agentPokeTimeout)
			}
			if !strings.Contains(got, tc.want) {
				t.Errorf("pokeAgent = %q, want it to say %q", got, tc.want)
			}
			if later := strings.HasSuffix(got, whenAgentStarts); later != (tc.triggered == 0) {
				t.Errorf("pokeAgent = %q: saying %q is for when no agent took the poke", got, whenAgentStarts)
			}
			if src != nil && src.n.Load() != tc.triggered {
				t.Errorf("the agent reconciled %d times, want %d", src.n.Load(), tc.triggered)
			}
		})
	}
}
