package power

import (
	"context"
	"fmt"

	"github.com/godbus/dbus/v5"
)

const (
	logindPath      = "/org/freedesktop/login1"
	logindInterface = "org.freedesktop.login1.Manager"
	logindMember    = "PrepareForSleep"
)

// watch listens for logind's PrepareForSleep(false), sent after a resume,
// on the system bus (or o.BusAddress); without a bus it logs once and runs
// the jump detector.
func watch(ctx context.Context, o Options, ch chan struct{}) Source {
	conn, err := connect(o.BusAddress)
	if err == nil {
		err = conn.AddMatchSignalContext(ctx, dbus.WithMatchObjectPath(logindPath),
			dbus.WithMatchInterface(logindInterface), dbus.WithMatchMember(logindMember))
		if err != nil {
			conn.Close()
		}
	}
	if err != nil {
		o.Logger.Warn("resume detection: no system bus, checking the wall clock instead", "err", err, "interval", o.Interval)
		go watchClock(ctx, o.Interval, ch)
		return SourceClockJump
	}
	sigs := make(chan *dbus.Signal, 4)
	conn.Signal(sigs)
	o.Logger.Info("resume detection: logind PrepareForSleep")
	go func() {
		defer close(ch)
		defer conn.Close()
		for {
			select {
			case <-ctx.Done():
				return
			case s, ok := <-sigs:
				if !ok {
					// The bus went away (dbus restarted): fall back.
					o.Logger.Warn("resume detection: system bus closed, checking the wall clock instead")
					inner := make(chan struct{}, 1)
					go watchClock(ctx, o.Interval, inner)
					for range inner {
						notify(ch)
					}
					return
				}
				if isResume(s) {
					notify(ch)
				}
			}
		}
	}()
	return SourceLogind
}

// isResume reports whether s is PrepareForSleep(false): logind sends true
// before suspending and false after resuming.
func isResume(s *dbus.Signal) bool {
	if s == nil || s.Name != logindInterface+"."+logindMember || len(s.Body) != 1 {
		return false
	}
	going, ok := s.Body[0].(bool)
	return ok && !going
}

func connect(addr string) (*dbus.Conn, error) {
	if addr == "" {
		c, err := dbus.ConnectSystemBus()
		if err != nil {
			return nil, fmt.Errorf("connecting to the system bus: %w", err)
		}
		return c, nil
	}
	c, err := dbus.Connect(addr)
	if err != nil {
		return nil, fmt.Errorf("connecting to D-Bus at %s: %w", addr, err)
	}
	return c, nil
}
