package card

import (
	"sync"
	"time"
)

// touchGate is the virtual touch sensor: a request waits on it, Touch
// confirms the request that is waiting.
type touchGate struct {
	mu      sync.Mutex
	waiting chan struct{}
}

// Touch confirms a pending touch request (TouchManual) and reports whether
// one was pending.
func (c *Card) Touch() bool {
	g := &c.touch
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.waiting == nil {
		return false
	}
	close(g.waiting)
	g.waiting = nil
	return true
}

// SetTouchDelay changes how long an automatic touch takes; 0 or less
// touches at once.
func (c *Card) SetTouchDelay(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.opts.TouchDelay = d
}

// TouchPending reports whether the card is waiting for a touch (it would
// blink).
func (c *Card) TouchPending() bool {
	g := &c.touch
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.waiting != nil
}

// awaitTouch blocks as the touch mode says and reports whether the key
// was touched. A real YubiKey that is not touched within 15 s fails the
// operation with 6982, security status not satisfied (yubico-piv-tool
// reports "Failed sign command with code 6982" for an untouched key:
// https://github.com/Yubico/yubico-piv-tool/issues/185); callers map false
// to that status word.
func (c *Card) awaitTouch() bool {
	switch c.opts.Touch {
	case TouchAuto:
		if c.opts.TouchDelay > 0 {
			time.Sleep(c.opts.TouchDelay)
		}
		c.lastTouch = c.now()
		return true
	case TouchManual:
		g := &c.touch
		ch := make(chan struct{})
		g.mu.Lock()
		g.waiting = ch
		g.mu.Unlock()
		c.log.Info("waiting for touch", "serial", c.st.Serial, "timeout", c.opts.TouchTimeout)
		t := time.NewTimer(c.opts.TouchTimeout)
		defer t.Stop()
		select {
		case <-ch:
			c.lastTouch = c.now()
			return true
		case <-t.C:
			g.mu.Lock()
			if g.waiting == ch {
				g.waiting = nil
			}
			g.mu.Unlock()
			c.log.Info("touch timed out", "serial", c.st.Serial)
			return false
		}
	}
	c.log.Info("blinking until the touch timeout, nobody touches", "serial", c.st.Serial, "timeout", c.opts.TouchTimeout)
	time.Sleep(c.opts.TouchTimeout)
	return false
}
