package launchers

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/kiwistack/endpoint/launchers/catalog"
	"github.com/kiwistack/endpoint/launchers/macos"
	"github.com/kiwistack/endpoint/platform/appleevent"
)

// fakeReceiver stands in for appleevent.Receive, the part that needs a Mac.
type fakeReceiver struct {
	url     string
	err     error
	calls   int
	timeout time.Duration
}

func (f *fakeReceiver) receive(_ context.Context, timeout time.Duration) (string, error) {
	f.calls++
	f.timeout = timeout
	return f.url, f.err
}

// macosState writes the state macos.RenderDispatcher renders for the
// default catalog, as the dispatcher app reads it on a Mac.
func macosState(t *testing.T) string {
	t.Helper()
	c, err := catalog.Defaults("acme", catalog.Subdomain)
	if err != nil {
		t.Fatal(err)
	}
	set, err := macos.RenderDispatcher(c, macos.Dispatcher{})
	if err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(t.TempDir(), "dispatch.json")
	for _, f := range set {
		if f.Path == macos.DispatchState {
			writeFile(t, file, string(f.Data))
			return file
		}
	}
	t.Fatal("no state rendered")
	return ""
}

// The macOS dispatcher app with the Apple Event receiver faked: the URL of
// the event (or of argv) goes through the same decision and handoff as on
// Linux, with the macOS state; no URL opens nothing.
func TestDispatchApp(t *testing.T) {
	state := macosState(t)
	chrome := macos.ChromeExecutables[0]
	safari := func(u string) []string { return []string{"/usr/bin/open", "-b", "com.apple.Safari", u} }
	hostile := "https://example.com/?q=$(touch PWNED);`id`;'\"&x|y"
	for _, tc := range []struct {
		name      string
		args      []string
		event     string
		eventErr  error
		wantArgv  []string
		wantErr   error
		wantCalls int
	}{
		{name: "tenant URL from the event", event: "https://mail.od.acme.kiwistack.io/x",
			wantArgv: []string{chrome, "--app=https://mail.od.acme.kiwistack.io/x", "--profile-directory=Work"}, wantCalls: 1},
		{name: "other URL from the event", event: "https://example.com/", wantArgv: safari("https://example.com/"), wantCalls: 1},
		{name: "look-alike host", event: "https://mail.od.acme.kiwistack.io.evil.com/", wantArgv: safari("https://mail.od.acme.kiwistack.io.evil.com/"), wantCalls: 1},
		{name: "userinfo trick", event: "https://mail.od.acme.kiwistack.io@evil.com/", wantArgv: safari("https://mail.od.acme.kiwistack.io@evil.com/"), wantCalls: 1},
		{name: "shell characters stay one argument", event: hostile, wantArgv: safari(hostile), wantCalls: 1},
		{name: "option-like URL refused", event: "--incognito", wantErr: ErrRefused, wantCalls: 1},
		{name: "no URL arrives", eventErr: fmt.Errorf("%w within 5s", appleevent.ErrNoEvent), wantErr: ErrNoURL, wantCalls: 1},
		{name: "receiver fails", eventErr: fmt.Errorf("receiving: %w", errors.ErrUnsupported), wantErr: errors.ErrUnsupported, wantCalls: 1},
		{name: "URL in argv, no event awaited", args: []string{"https://wiki.od.acme.kiwistack.io/"},
			wantArgv: []string{chrome, "--app=https://wiki.od.acme.kiwistack.io/", "--profile-directory=Work"}},
		{name: "two URLs in argv", args: []string{"https://example.com/", "https://example.org/"}, wantErr: errAny},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := &fakeReceiver{url: tc.event, err: tc.eventErr}
			var ran []string
			o := AppOptions{Receive: f.receive, DispatchOptions: DispatchOptions{StateFile: state, Self: "/usr/local/bin/kiwistack-agent",
				Env: []string{"PATH=/usr/bin:/bin"}, Exec: func(argv, _ []string) error { ran = argv; return nil }}}
			_, err := DispatchApp(context.Background(), tc.args, o)
			switch {
			case tc.wantErr == errAny && err == nil, tc.wantErr != nil && tc.wantErr != errAny && !errors.Is(err, tc.wantErr):
				t.Errorf("error %v, want %v", err, tc.wantErr)
			case tc.wantErr == nil && err != nil:
				t.Errorf("error %v", err)
			}
			if !slices.Equal(ran, tc.wantArgv) {
				t.Errorf("ran %q, want %q", ran, tc.wantArgv)
			}
			if f.calls != tc.wantCalls {
				t.Errorf("receiver called %d times, want %d", f.calls, tc.wantCalls)
			}
			if f.calls > 0 && f.timeout != AppleEventTimeout {
				t.Errorf("waited %s, want %s", f.timeout, AppleEventTimeout)
			}
		})
	}
}

var errAny = errors.New("any error")
