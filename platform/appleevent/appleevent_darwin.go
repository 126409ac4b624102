//go:build darwin

package appleevent

import (
	"context"
	"errors"
	"fmt"
	"math"
	"runtime"
	"sync"
	"time"
	"unsafe"

	"github.com/ebitengine/purego"
	"github.com/ebitengine/purego/objc"
)

// AppKit must run on the main thread; init functions run on it, and locking
// here makes main run there too (runtime.LockOSThread).
func init() { runtime.LockOSThread() }

const appKit = "/System/Library/Frameworks/AppKit.framework/AppKit"

// handlerClass is the Objective-C class of the event handler, registered
// once per process.
const handlerClass = "KiwiStackGetURLHandler"

// activationPolicyAccessory is NSApplicationActivationPolicyAccessory.
const activationPolicyAccessory = 1

// nsUTF8StringEncoding is NSUTF8StringEncoding.
const nsUTF8StringEncoding = 4

var (
	loadOnce sync.Once
	loadErr  error

	selNew, selDrain, selShared, selFinish, selNext, selSend, selSharedAEM, selSetHandler, selRemoveHandler,
	selHandle, selParam, selStringValue, selLength, selGetCString, selIsMain, selDate, selStringWithUTF8, selSetPolicy objc.SEL
)

// received is what the handler found; the handler runs on the main thread
// inside the event pump below, which reads it on the same thread.
var received struct {
	url  string
	err  error
	done bool
}

func load() error {
	loadOnce.Do(func() {
		if _, err := purego.Dlopen(appKit, purego.RTLD_NOW|purego.RTLD_GLOBAL); err != nil {
			loadErr = fmt.Errorf("loading AppKit: %w", err)
			return
		}
		for _, s := range []struct {
			sel  *objc.SEL
			name string
		}{
			{&selNew, "new"}, {&selDrain, "drain"}, {&selShared, "sharedApplication"}, {&selFinish, "finishLaunching"},
			{&selNext, "nextEventMatchingMask:untilDate:inMode:dequeue:"}, {&selSend, "sendEvent:"},
			{&selSharedAEM, "sharedAppleEventManager"}, {&selSetHandler, "setEventHandler:andSelector:forEventClass:andEventID:"},
			{&selRemoveHandler, "removeEventHandlerForEventClass:andEventID:"}, {&selHandle, "handleGetURLEvent:withReplyEvent:"},
			{&selParam, "paramDescriptorForKeyword:"}, {&selStringValue, "stringValue"},
			{&selLength, "lengthOfBytesUsingEncoding:"}, {&selGetCString, "getCString:maxLength:encoding:"},
			{&selIsMain, "isMainThread"}, {&selDate, "dateWithTimeIntervalSinceNow:"}, {&selStringWithUTF8, "stringWithUTF8String:"},
			{&selSetPolicy, "setActivationPolicy:"},
		} {
			*s.sel = objc.RegisterName(s.name)
		}
		_, err := objc.RegisterClass(handlerClass, objc.GetClass("NSObject"), nil, nil, []objc.MethodDef{
			{Cmd: selHandle, Fn: handleGetURL},
		})
		if err != nil {
			loadErr = fmt.Errorf("registering the Apple Event handler class: %w", err)
		}
	})
	return loadErr
}

// handleGetURL is -[KiwiStackGetURLHandler handleGetURLEvent:withReplyEvent:]:
// it keeps the first URL and ignores later events.
func handleGetURL(_ objc.ID, _ objc.SEL, event, _ objc.ID) {
	if received.done {
		return
	}
	received.done = true
	desc := event.Send(selParam, DirectObject)
	if desc == 0 {
		received.err = errors.New("the get-URL event has no direct object")
		return
	}
	received.url, received.err = goString(desc.Send(selStringValue))
}

// goString copies an NSString's UTF-8 bytes.
func goString(s objc.ID) (string, error) {
	if s == 0 {
		return "", errors.New("the get-URL event's direct object is not text")
	}
	n := objc.Send[uint](s, selLength, uint(nsUTF8StringEncoding))
	if n > MaxURLBytes {
		return "", fmt.Errorf("the URL is longer than %d bytes", MaxURLBytes)
	}
	buf := make([]byte, n+1)
	if !objc.Send[bool](s, selGetCString, unsafe.Pointer(&buf[0]), uint(n+1), uint(nsUTF8StringEncoding)) {
		return "", errors.New("the URL is not representable as UTF-8")
	}
	return string(buf[:n]), nil
}

func class(name string) objc.ID { return objc.ID(objc.GetClass(name)) }

func receive(ctx context.Context, timeout time.Duration) (string, error) {
	if err := load(); err != nil {
		return "", err
	}
	if !objc.Send[bool](class("NSThread"), selIsMain) {
		return "", errors.New("receiving Apple Events: not on the main thread (call Receive from main)")
	}
	pool := class("NSAutoreleasePool").Send(selNew)
	defer pool.Send(selDrain)
	app := class("NSApplication").Send(selShared)
	// NSApplicationActivationPolicyAccessory, what LSUIElement declares: no
	// Dock icon, no menu bar, whichever bundle macOS took as the main one.
	app.Send(selSetPolicy, activationPolicyAccessory)
	handler := class(handlerClass).Send(selNew)
	aem := class("NSAppleEventManager").Send(selSharedAEM)
	// Installed before finishLaunching, so the event LaunchServices sends
	// with the launch finds it.
	aem.Send(selSetHandler, handler, selHandle, InternetEventClass, GetURL)
	defer aem.Send(selRemoveHandler, InternetEventClass, GetURL)
	app.Send(selFinish)
	mode := class("NSString").Send(selStringWithUTF8, "kCFRunLoopDefaultMode") // NSDefaultRunLoopMode
	deadline := time.Now().Add(timeout)
	for !received.done {
		if err := ctx.Err(); err != nil {
			return "", err
		}
		left := time.Until(deadline)
		if left <= 0 {
			return "", fmt.Errorf("%w within %s", ErrNoEvent, timeout)
		}
		inner := class("NSAutoreleasePool").Send(selNew)
		until := class("NSDate").Send(selDate, min(left, 100*time.Millisecond).Seconds())
		if ev := app.Send(selNext, uint64(math.MaxUint64), until, mode, true); ev != 0 {
			app.Send(selSend, ev)
		}
		inner.Send(selDrain)
	}
	return received.url, received.err
}
