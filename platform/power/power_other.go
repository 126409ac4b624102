//go:build !linux

package power

import "context"

// watch on macOS and Windows (and other systems) is the jump detector: the
// OS notifications named in the package comment need IOKit (cgo) or a
// message window, which the agent does not have yet. A resume shows up as
// the wall clock moving ahead of the monotonic clock, noticed within one
// Interval.
func watch(ctx context.Context, o Options, ch chan struct{}) Source {
	o.Logger.Info("resume detection: wall-clock jumps", "interval", o.Interval)
	go watchClock(ctx, o.Interval, ch)
	return SourceClockJump
}
