package directory

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/kiwistack/endpoint/enroll/protocol"
)

// Reachability of the directory, as status shows it.
const (
	ReachableYes = "yes"
	ReachableNo  = "no"
)

// ProbeTimeout bounds one reachability check of every server.
const ProbeTimeout = 3 * time.Second

// RetryUnreachable is how long the controller waits before it checks an
// unreachable directory again (any wake of the reconcile loop runs it earlier).
const RetryUnreachable = 5 * time.Minute

// DialFunc opens a connection, like (*net.Dialer).DialContext.
type DialFunc func(ctx context.Context, network, addr string) (net.Conn, error)

// LDAPAddrs returns the TCP addresses of cfg's LDAP servers (port 636 for
// ldaps, 389 for ldap when the URI names none).
func LDAPAddrs(cfg *protocol.DirectoryConfig) []string {
	var out []string
	for _, s := range cfg.LDAPURIs {
		u, err := url.Parse(s)
		if err != nil {
			continue
		}
		port := u.Port()
		if port == "" {
			port = "389"
			if u.Scheme == "ldaps" {
				port = "636"
			}
		}
		out = append(out, net.JoinHostPort(u.Hostname(), port))
	}
	return out
}

// KDCAddrs returns the TCP addresses of cfg's KDCs (port 88 when absent).
func KDCAddrs(cfg *protocol.DirectoryConfig) []string {
	var out []string
	for _, s := range cfg.KDCs {
		if _, _, err := net.SplitHostPort(s); err == nil {
			out = append(out, s)
			continue
		}
		out = append(out, net.JoinHostPort(strings.Trim(s, "[]"), "88"))
	}
	return out
}

// Probe says whether at least one LDAP server and one KDC of cfg accept a
// TCP connection within ProbeTimeout; the error names what is unreachable.
func Probe(ctx context.Context, dial DialFunc, cfg *protocol.DirectoryConfig) error {
	ctx, cancel := context.WithTimeout(ctx, ProbeTimeout)
	defer cancel()
	var errs []error
	var mu sync.Mutex
	var wg sync.WaitGroup
	for _, group := range []struct {
		what  string
		addrs []string
	}{{"LDAP", LDAPAddrs(cfg)}, {"KDC", KDCAddrs(cfg)}} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := anyAnswers(ctx, dial, group.addrs); err != nil {
				mu.Lock()
				errs = append(errs, fmt.Errorf("no %s server answers (%w)", group.what, err))
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}

// anyAnswers dials addrs at once and returns nil as soon as one answers.
func anyAnswers(ctx context.Context, dial DialFunc, addrs []string) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	res := make(chan error, len(addrs))
	for _, a := range addrs {
		go func() {
			c, err := dial(ctx, "tcp", a)
			if err != nil {
				res <- fmt.Errorf("%s: %w", a, err)
				return
			}
			_ = c.Close()
			res <- nil
		}()
	}
	var errs []error
	for range addrs {
		err := <-res
		if err == nil {
			return nil
		}
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}
