// Package power tells the agent when the machine has resumed from sleep, so
// that it re-reads the wall clock at once: Go's timers follow the monotonic
// clock, which on Linux stands still during suspend, so a timer set for a
// wall-clock deadline fires late after a resume.
//
// Resumes is the one entry point. Each OS uses its native notification and
// falls back, logging once, to a wall-clock-jump detector when registering
// fails:
//
//   - Linux (power_linux.go): logind's PrepareForSleep(false) signal on the
//     system bus; also the fallback when the bus goes away later.
//   - macOS (power_darwin.go): IOKit's IORegisterForSystemPower, called
//     through purego without cgo, on a goroutine locked to its OS thread
//     that runs that thread's CFRunLoop. kIOMessageSystemHasPoweredOn is a
//     resume; kIOMessageCanSystemSleep and kIOMessageSystemWillSleep are
//     acknowledged with IOAllowPowerChange (else macOS waits 30 seconds
//     before sleeping).
//   - Windows (power_windows.go): PowerRegisterSuspendResumeNotification
//     from powrprof.dll with a DEVICE_NOTIFY_CALLBACK (no window, no
//     service control handler); PBT_APMRESUMEAUTOMATIC and
//     PBT_APMRESUMESUSPEND are resumes.
//   - Other systems (power_other.go): the jump detector only.
//
// What is tested where: the Linux path against a private dbus-daemon; the
// macOS and Windows message mappings (messages.go) and the callback
// registry (registry.go) are pure and compiled on every OS, so their tests
// run on Linux; the darwin and windows files themselves are only
// cross-compiled and vetted here, and run only on those systems.
//
// It owns resume detection only: it never decides what to do on a resume.
package power

import (
	"context"
	"log/slog"
	"time"
)

// DefaultInterval is how often the jump detector looks at the clock: at
// most one wake-up per minute while idle.
const DefaultInterval = time.Minute

// DefaultTolerance is how far the wall clock may drift from the monotonic
// clock over one interval before the detector calls it a resume or a jump.
const DefaultTolerance = 5 * time.Second

// Options configure Resumes.
type Options struct {
	// Logger receives the one message saying which source is used; nil
	// discards.
	Logger *slog.Logger
	// Interval is the jump detector's period (DefaultInterval if zero).
	Interval time.Duration
	// BusAddress, on Linux, is the D-Bus address to listen on instead of
	// the system bus (tests start their own dbus-daemon).
	BusAddress string
}

// Source says where resume events come from.
type Source string

// The sources of resume events.
const (
	// SourceLogind: logind's PrepareForSleep signal (Linux).
	SourceLogind Source = "logind"
	// SourceIOKit: IOKit's IORegisterForSystemPower notifications (macOS).
	SourceIOKit Source = "iokit"
	// SourceSuspendResume: PowerRegisterSuspendResumeNotification (Windows).
	SourceSuspendResume Source = "suspend-resume"
	// SourceClockJump: the wall-clock-jump detector, one check per Interval.
	SourceClockJump Source = "clock-jump"
)

// Resumes returns a channel that receives (without blocking the sender;
// events coalesce) after each resume from sleep or wall-clock jump, and the
// source it uses. The channel is closed when ctx ends.
func Resumes(ctx context.Context, o Options) (<-chan struct{}, Source) {
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Interval <= 0 {
		o.Interval = DefaultInterval
	}
	ch := make(chan struct{}, 1)
	src := watch(ctx, o, ch)
	return ch, src
}

func notify(ch chan<- struct{}) {
	select {
	case ch <- struct{}{}:
	default:
	}
}

// JumpDetector tells a resume or a wall-clock jump from the difference
// between how far the wall clock and the monotonic clock moved since the
// last observation. It is pure: the caller passes both readings.
type JumpDetector struct {
	// Tolerance is the drift allowed per observation (DefaultTolerance if
	// zero).
	Tolerance time.Duration

	wall time.Time
	mono time.Duration
	seen bool
}

// Observe records a reading (wall without monotonic reading, mono from a
// monotonic origin) and reports whether the wall clock moved more than
// Tolerance away from the monotonic clock since the previous one.
func (d *JumpDetector) Observe(wall time.Time, mono time.Duration) bool {
	tol := d.Tolerance
	if tol <= 0 {
		tol = DefaultTolerance
	}
	prevWall, prevMono, seen := d.wall, d.mono, d.seen
	d.wall, d.mono, d.seen = wall.Round(0), mono, true
	if !seen {
		return false
	}
	drift := wall.Round(0).Sub(prevWall) - (mono - prevMono)
	return drift > tol || drift < -tol
}

// watchClock runs the jump detector until ctx ends, closing ch then.
func watchClock(ctx context.Context, interval time.Duration, ch chan struct{}) {
	start := time.Now()
	var d JumpDetector
	d.Observe(time.Now().Round(0), time.Since(start))
	t := time.NewTimer(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			close(ch)
			return
		case <-t.C:
			if d.Observe(time.Now().Round(0), time.Since(start)) {
				notify(ch)
			}
			t.Reset(interval)
		}
	}
}
