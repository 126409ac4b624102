//go:build darwin

package power

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"sync"
	"time"
	"unsafe"

	"github.com/ebitengine/purego"
)

const (
	ioKitPath          = "/System/Library/Frameworks/IOKit.framework/IOKit"
	coreFoundationPath = "/System/Library/Frameworks/CoreFoundation.framework/CoreFoundation"
)

// ioKit holds the IOKit and CoreFoundation functions the watcher calls.
// mach_port_t and io_object_t are uint32; the Ref types are pointers.
type ioKit struct {
	registerForSystemPower   func(refcon uintptr, port *uintptr, callback uintptr, notifier *uint32) uint32
	deregisterForSystemPower func(notifier *uint32) int32
	allowPowerChange         func(rootPort uint32, notificationID uintptr) int32
	serviceClose             func(connect uint32) int32
	portGetRunLoopSource     func(port uintptr) uintptr
	portDestroy              func(port uintptr)
	runLoopGetCurrent        func() uintptr
	runLoopAddSource         func(rl, source, mode uintptr)
	runLoopRemoveSource      func(rl, source, mode uintptr)
	runLoopRun               func()
	runLoopStop              func(rl uintptr)
	retain                   func(cf uintptr) uintptr
	release                  func(cf uintptr)
	defaultMode              uintptr // kCFRunLoopDefaultMode, a CFStringRef
}

// symbol is a C function to resolve into a Go function variable.
type symbol struct {
	name string
	fn   any
}

// loadIOKit opens both frameworks once per process and resolves every
// symbol up front.
var loadIOKit = sync.OnceValues(func() (*ioKit, error) {
	var l ioKit
	if _, err := resolve(ioKitPath, []symbol{
		{"IORegisterForSystemPower", &l.registerForSystemPower},
		{"IODeregisterForSystemPower", &l.deregisterForSystemPower},
		{"IOAllowPowerChange", &l.allowPowerChange},
		{"IOServiceClose", &l.serviceClose},
		{"IONotificationPortGetRunLoopSource", &l.portGetRunLoopSource},
		{"IONotificationPortDestroy", &l.portDestroy},
	}); err != nil {
		return nil, err
	}
	cf, err := resolve(coreFoundationPath, []symbol{
		{"CFRunLoopGetCurrent", &l.runLoopGetCurrent},
		{"CFRunLoopAddSource", &l.runLoopAddSource},
		{"CFRunLoopRemoveSource", &l.runLoopRemoveSource},
		{"CFRunLoopRun", &l.runLoopRun},
		{"CFRunLoopStop", &l.runLoopStop},
		{"CFRetain", &l.retain},
		{"CFRelease", &l.release},
	})
	if err != nil {
		return nil, err
	}
	sym, err := purego.Dlsym(cf, "kCFRunLoopDefaultMode")
	if err != nil {
		return nil, fmt.Errorf("looking up kCFRunLoopDefaultMode in %s: %w", coreFoundationPath, err)
	}
	// sym is the address of the CFStringRef variable.
	l.defaultMode = **(**uintptr)(unsafe.Pointer(&sym))
	return &l, nil
})

func resolve(path string, syms []symbol) (uintptr, error) {
	dl, err := purego.Dlopen(path, purego.RTLD_NOW|purego.RTLD_GLOBAL)
	if err != nil {
		return 0, fmt.Errorf("loading %s: %w", path, err)
	}
	for _, f := range syms {
		sym, err := purego.Dlsym(dl, f.name)
		if err != nil {
			return 0, fmt.Errorf("looking up %s in %s: %w", f.name, path, err)
		}
		purego.RegisterFunc(f.fn, sym)
	}
	return dl, nil
}

// ioKitWatch is one registration. rootPort is set before the run loop
// source is added and read only by the callback, on the same thread.
type ioKitWatch struct {
	ch       chan struct{}
	rootPort uint32
}

var (
	ioKitWatches  registry[*ioKitWatch]
	ioKitCallback = sync.OnceValue(func() uintptr { return purego.NewCallback(onSystemPower) })
)

// onSystemPower is the IOServiceInterestCallback: void (void *refcon,
// io_service_t service, natural_t messageType, void *messageArgument). It
// runs on the watcher's run-loop thread.
func onSystemPower(refcon uintptr, _ uint32, msg uint32, arg uintptr) {
	switch ioKitMessageAction(msg) {
	case ioKitAllow:
		ioKitWatches.with(refcon, func(w *ioKitWatch) {
			if l, err := loadIOKit(); err == nil {
				l.allowPowerChange(w.rootPort, arg)
			}
		})
	case ioKitResume:
		ioKitWatches.with(refcon, func(w *ioKitWatch) { notify(w.ch) })
	}
}

// watch registers for system power notifications with
// IORegisterForSystemPower on a goroutine locked to its OS thread, which
// runs that thread's CFRunLoop; if that fails it logs once and runs the
// jump detector.
func watch(ctx context.Context, o Options, ch chan struct{}) Source {
	if err := watchIOKit(ctx, o, ch); err != nil {
		o.Logger.Warn("resume detection: no IOKit power notifications, checking the wall clock instead", "err", err, "interval", o.Interval)
		go watchClock(ctx, o.Interval, ch)
		return SourceClockJump
	}
	o.Logger.Info("resume detection: IOKit IORegisterForSystemPower")
	return SourceIOKit
}

// stopRetry is how often the stopper repeats CFRunLoopStop until the run
// loop has returned: a stop sent before CFRunLoopRun starts is lost (the
// stopped flag belongs to each run).
const stopRetry = 50 * time.Millisecond

func watchIOKit(ctx context.Context, o Options, ch chan struct{}) error {
	l, err := loadIOKit()
	if err != nil {
		return err
	}
	type started struct {
		rl  uintptr
		err error
	}
	start := make(chan started, 1)
	done := make(chan struct{})
	go func() {
		// The thread dies with the goroutine (no UnlockOSThread), and its
		// run loop with it.
		runtime.LockOSThread()
		w := &ioKitWatch{ch: ch}
		id := ioKitWatches.add(w)
		var port uintptr
		var notifier uint32
		w.rootPort = l.registerForSystemPower(id, &port, ioKitCallback(), &notifier)
		if w.rootPort == 0 {
			ioKitWatches.remove(id)
			start <- started{err: errors.New("IORegisterForSystemPower failed")}
			return
		}
		rl := l.runLoopGetCurrent()
		source := l.portGetRunLoopSource(port)
		l.runLoopAddSource(rl, source, l.defaultMode)
		l.retain(rl) // released by the stopper, which may outlive this thread
		start <- started{rl: rl}
		// Returns after the stopper's CFRunLoopStop, or early if the run
		// loop ran out of sources.
		l.runLoopRun()
		l.runLoopRemoveSource(rl, source, l.defaultMode)
		l.deregisterForSystemPower(&notifier)
		l.serviceClose(w.rootPort)
		l.portDestroy(port)
		ioKitWatches.remove(id)
		close(done)
		if ctx.Err() == nil {
			o.Logger.Warn("resume detection: the IOKit run loop ended, checking the wall clock instead", "interval", o.Interval)
			go watchClock(ctx, o.Interval, ch)
			return
		}
		close(ch)
	}()
	s := <-start
	if s.err != nil {
		return s.err
	}
	go func() {
		<-ctx.Done()
		t := time.NewTicker(stopRetry)
		defer t.Stop()
		for {
			l.runLoopStop(s.rl)
			select {
			case <-done:
				l.release(s.rl)
				return
			case <-t.C:
			}
		}
	}()
	return nil
}
