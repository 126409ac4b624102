//go:build windows

package power

import (
	"context"
	"fmt"
	"sync"
	"syscall"
	"unsafe"

	"golang.org/x/sys/windows"
)

var (
	powrprof       = windows.NewLazySystemDLL("powrprof.dll")
	procRegister   = powrprof.NewProc("PowerRegisterSuspendResumeNotification")
	procUnregister = powrprof.NewProc("PowerUnregisterSuspendResumeNotification")
)

// deviceNotifyCallback is DEVICE_NOTIFY_CALLBACK: the recipient is a
// DEVICE_NOTIFY_SUBSCRIBE_PARAMETERS, not a window or service handle.
const deviceNotifyCallback = 2

// deviceNotifySubscribeParameters is DEVICE_NOTIFY_SUBSCRIBE_PARAMETERS.
type deviceNotifySubscribeParameters struct {
	callback uintptr // PDEVICE_NOTIFY_CALLBACK_ROUTINE
	context  uintptr // PVOID, the registry's context
}

// windowsWatch is one registration: its channel and the parameters, kept
// reachable (Go's heap does not move) for as long as Windows may read them.
type windowsWatch struct {
	ch     chan struct{}
	params *deviceNotifySubscribeParameters
}

var (
	windowsWatches  registry[*windowsWatch]
	windowsCallback = sync.OnceValue(func() uintptr { return windows.NewCallback(onPowerEvent) })
)

// onPowerEvent is the DEVICE_NOTIFY_CALLBACK_ROUTINE:
// ULONG (PVOID Context, ULONG Type, PVOID Setting).
func onPowerEvent(id, event, _ uintptr) uintptr {
	if windowsIsResume(uint32(event)) {
		windowsWatches.with(id, func(w *windowsWatch) { notify(w.ch) })
	}
	return uintptr(windows.ERROR_SUCCESS)
}

// watch registers for suspend and resume notifications with
// PowerRegisterSuspendResumeNotification (Windows 8 and later; no window
// and no service control handler needed, so it works the same in the
// service and in a console); if that fails it logs once and runs the jump
// detector.
func watch(ctx context.Context, o Options, ch chan struct{}) Source {
	handle, id, err := registerSuspendResume(ch)
	if err != nil {
		o.Logger.Warn("resume detection: no power notifications, checking the wall clock instead", "err", err, "interval", o.Interval)
		go watchClock(ctx, o.Interval, ch)
		return SourceClockJump
	}
	o.Logger.Info("resume detection: PowerRegisterSuspendResumeNotification")
	go func() {
		<-ctx.Done()
		if r, _, _ := procUnregister.Call(handle); r != uintptr(windows.ERROR_SUCCESS) {
			o.Logger.Warn("resume detection: unregistering the power notification", "err", syscall.Errno(r))
		}
		windowsWatches.remove(id)
		close(ch)
	}()
	return SourceSuspendResume
}

// registerSuspendResume returns the HPOWERNOTIFY and the registry context.
func registerSuspendResume(ch chan struct{}) (uintptr, uintptr, error) {
	if err := procRegister.Find(); err != nil {
		return 0, 0, fmt.Errorf("loading PowerRegisterSuspendResumeNotification: %w", err)
	}
	if err := procUnregister.Find(); err != nil {
		return 0, 0, fmt.Errorf("loading PowerUnregisterSuspendResumeNotification: %w", err)
	}
	w := &windowsWatch{ch: ch, params: &deviceNotifySubscribeParameters{callback: windowsCallback()}}
	id := windowsWatches.add(w)
	w.params.context = id
	var handle uintptr
	r, _, _ := procRegister.Call(deviceNotifyCallback, uintptr(unsafe.Pointer(w.params)), uintptr(unsafe.Pointer(&handle)))
	if r != uintptr(windows.ERROR_SUCCESS) {
		windowsWatches.remove(id)
		return 0, 0, fmt.Errorf("registering for suspend and resume notifications: %w", syscall.Errno(r))
	}
	return handle, id, nil
}
