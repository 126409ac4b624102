//go:build !linux && !darwin && !windows

package power

import "context"

// watch on systems other than Linux, macOS and Windows is the jump
// detector: a resume shows up as the wall clock moving ahead of the
// monotonic clock, noticed within one Interval.
func watch(ctx context.Context, o Options, ch chan struct{}) Source {
	o.Logger.Info("resume detection: wall-clock jumps", "interval", o.Interval)
	go watchClock(ctx, o.Interval, ch)
	return SourceClockJump
}
