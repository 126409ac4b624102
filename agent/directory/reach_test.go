package directory

import (
	"context"
	"errors"
	"net"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/kiwistack/endpoint/enroll/protocol"
)

func TestAddrs(t *testing.T) {
	d := &protocol.DirectoryConfig{LDAPURIs: []string{"ldaps://a", "ldap://b", "ldaps://[fd00::1]:1636"}, KDCs: []string{"k", "k2:750", "[fd00::2]", "[fd00::3]:88"}}
	if got := LDAPAddrs(d); !slices.Equal(got, []string{"a:636", "b:389", "[fd00::1]:1636"}) {
		t.Errorf("LDAPAddrs = %q", got)
	}
	if got := KDCAddrs(d); !slices.Equal(got, []string{"k:88", "k2:750", "[fd00::2]:88", "[fd00::3]:88"}) {
		t.Errorf("KDCAddrs = %q", got)
	}
}

// listen returns a listener on 127.0.0.1 that accepts until the test ends.
func listen(t *testing.T) net.Listener {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	return l
}

// TestReachability: the controller reports a directory whose LDAP server
// and KDC accept connections as reachable; with the KDC gone it stays
// configured, says the directory is unreachable and what that means, and
// asks to be run again.
func TestReachability(t *testing.T) {
	root := sandbox(t)
	ldap, kdc := listen(t), listen(t)
	dc := testConfig(t)
	dc.LDAPURIs = []string{"ldaps://" + ldap.Addr().String()}
	dc.KDCs = []string{kdc.Addr().String()}
	cfg := &protocol.AgentConfig{Directory: dc}
	now := time.Date(2026, 11, 28, 10, 0, 0, 0, time.UTC)
	c := New(Options{Root: root, Service: NoRestart{}, Now: func() time.Time { return now }, Config: func() *protocol.AgentConfig { return cfg }})
	next, err := c.Reconcile(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if st := c.Status(); st.State != StateConfigured || st.Reachable != ReachableYes || !st.Checked.Equal(now) || !next.IsZero() || st.Message != "" {
		t.Fatalf("status with both reachable = %+v, next %v", st, next)
	}
	kdc.Close()
	next, err = c.Reconcile(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	st := c.Status()
	if st.State != StateConfigured || !st.Configured || st.Reachable != ReachableNo || !next.Equal(now.Add(RetryUnreachable)) ||
		!strings.Contains(st.Message, "no KDC server answers ("+kdc.Addr().String()) || strings.Contains(st.Message, "LDAP") ||
		!strings.Contains(st.Message, "cached credentials") {
		t.Fatalf("status with the KDC down = %+v, next %v", st, next)
	}
}

func TestProbeTimeout(t *testing.T) {
	hang := func(ctx context.Context, _, _ string) (net.Conn, error) {
		<-ctx.Done()
		return nil, ctx.Err()
	}
	start := time.Now()
	err := Probe(context.Background(), hang, testConfig(t))
	if !errors.Is(err, context.DeadlineExceeded) || time.Since(start) > ProbeTimeout+time.Second {
		t.Errorf("Probe against silent servers: %v after %v", err, time.Since(start))
	}
}
