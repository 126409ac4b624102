// Package appleevent receives the one URL macOS hands a URL-handler app: a
// get-URL Apple Event (kInternetEventClass/kAEGetURL, 'GURL' 'GURL'), which
// is how LaunchServices gives a link to the default browser — never in argv.
// On darwin, Receive starts NSApplication through the Objective-C runtime
// (github.com/ebitengine/purego/objc, no cgo), installs a handler with
// NSAppleEventManager, pumps events until the first get-URL event arrives or
// the timeout passes, and returns the event's direct object as a string.
// Elsewhere Receive returns an error wrapping errors.ErrUnsupported.
//
// It decides nothing about the URL and opens nothing: the caller (the URL
// dispatcher, launchers.DispatchApp) does. It handles no other Apple Event
// (documents, reopen, quit), shows no window, and keeps no state between
// calls. On darwin its init locks the main goroutine to the main thread,
// which AppKit requires (Go's documented rule for init functions).
package appleevent

import (
	"context"
	"errors"
	"time"
)

// ErrNoEvent is returned when no get-URL event arrived before the timeout:
// the app was started without a URL (opened from Finder, say).
var ErrNoEvent = errors.New("no get-URL Apple Event arrived")

// MaxURLBytes is the longest URL Receive returns; a longer one is an error.
const MaxURLBytes = 64 << 10

// FourCC returns the four-character code of s (four ASCII bytes, big end
// first), as the Apple Event Manager's OSType.
func FourCC(s string) uint32 {
	if len(s) != 4 {
		panic("appleevent: a four-character code needs four bytes: " + s)
	}
	return uint32(s[0])<<24 | uint32(s[1])<<16 | uint32(s[2])<<8 | uint32(s[3])
}

// The codes Receive listens for and reads (AE/AERegistry.h, AppleEvents.h).
var (
	// InternetEventClass is kInternetEventClass, 'GURL'.
	InternetEventClass = FourCC("GURL")
	// GetURL is kAEGetURL, 'GURL'.
	GetURL = FourCC("GURL")
	// DirectObject is keyDirectObject, '----': the URL of a get-URL event.
	DirectObject = FourCC("----")
)

// Receive waits, for at most timeout or until ctx ends, for the first
// get-URL Apple Event and returns its URL. It must be called from the main
// goroutine, once per process. It returns an error wrapping ErrNoEvent
// when none came in time, and one wrapping errors.ErrUnsupported off
// macOS.
func Receive(ctx context.Context, timeout time.Duration) (string, error) {
	return receive(ctx, timeout)
}
