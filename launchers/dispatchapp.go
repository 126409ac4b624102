package launchers

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/kiwistack/endpoint/launchers/dispatch"
	"github.com/kiwistack/endpoint/platform/appleevent"
)

// AppleEventTimeout is how long the macOS dispatcher app waits for its URL
// after it starts: LaunchServices sends the get-URL event as soon as the
// app has checked in, well within a second.
const AppleEventTimeout = 5 * time.Second

// ErrNoURL: the macOS dispatcher app was started without a URL (opened from
// Finder, or by `open -a` without one) and none arrived in time. It opens
// nothing; the command treats this as a clean exit.
var ErrNoURL = errors.New("started without a URL")

// ReceiveURL waits for the URL macOS hands the dispatcher app
// (appleevent.Receive); tests pass a fake.
type ReceiveURL func(ctx context.Context, timeout time.Duration) (string, error)

// AppOptions are the inputs of DispatchApp.
type AppOptions struct {
	DispatchOptions
	// Receive waits for the get-URL Apple Event; nil means
	// appleevent.Receive.
	Receive ReceiveURL
	// Timeout bounds the wait; zero means AppleEventTimeout.
	Timeout time.Duration
}

// DispatchApp is the macOS dispatcher app (`kiwistack-agent dispatch
// --apple-events`, run by the bundle's executable). macOS gives a URL
// handler its URL as a get-URL Apple Event, not in argv; args, the command's
// own arguments, are still honoured first when a URL is run by hand
// (`kiwistack-agent dispatch --apple-events URL`), and then no event is
// awaited. The URL goes through Dispatch, the decision and handoff the Linux
// dispatcher uses. With no argument and no event within the timeout it
// returns ErrNoURL and opens nothing.
func DispatchApp(ctx context.Context, args []string, o AppOptions) (dispatch.Decision, error) {
	var url string
	switch len(args) {
	case 0:
		receive, timeout := o.Receive, o.Timeout
		if receive == nil {
			receive = appleevent.Receive
		}
		if timeout <= 0 {
			timeout = AppleEventTimeout
		}
		u, err := receive(ctx, timeout)
		if errors.Is(err, appleevent.ErrNoEvent) {
			return dispatch.Decision{}, fmt.Errorf("%w: no get-URL Apple Event within %s, so nothing was opened", ErrNoURL, timeout)
		}
		if err != nil {
			return dispatch.Decision{}, fmt.Errorf("waiting for the URL: %w", err)
		}
		url = u
	case 1:
		url = args[0]
	default:
		return dispatch.Decision{}, fmt.Errorf("%d URLs given: the dispatcher opens one", len(args))
	}
	return Dispatch(url, o.DispatchOptions)
}
