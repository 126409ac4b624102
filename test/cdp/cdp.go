// Package cdp drives a headless Chromium started with
// --remote-debugging-pipe through the Chrome DevTools Protocol, for the
// real-browser tests: JSON messages ending in NUL, written to the
// browser's fd 3 and read from its fd 4. It is test-only code.
package cdp

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"time"
)

// Client is one browser's DevTools pipe.
type Client struct {
	w, r     *os.File
	br       *bufio.Reader
	id       int
	toChild  *os.File
	fromPeer *os.File
}

// Pipe gives cmd, before it starts, the two pipes of
// --remote-debugging-pipe as its fds 3 (the browser reads) and 4 (it
// writes). Call Started once cmd has started, and Close when done.
func Pipe(cmd *exec.Cmd) (*Client, error) {
	toBrowser, browserIn, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	browserOut, fromBrowser, err := os.Pipe()
	if err != nil {
		toBrowser.Close()
		browserIn.Close()
		return nil, err
	}
	cmd.ExtraFiles = []*os.File{toBrowser, fromBrowser}
	return &Client{w: browserIn, r: browserOut, br: bufio.NewReader(browserOut), toChild: toBrowser, fromPeer: fromBrowser}, nil
}

// Started closes this process's copies of the browser's ends, so that a
// browser that exits ends the reads.
func (c *Client) Started() {
	c.toChild.Close()
	c.fromPeer.Close()
}

// Close closes the pipes.
func (c *Client) Close() {
	c.w.Close()
	c.r.Close()
}

// Call sends method with params (to session, "" for the browser) and
// returns its result, skipping events, until deadline.
func (c *Client) Call(method string, params any, session string, deadline time.Time) (json.RawMessage, error) {
	c.id++
	msg := map[string]any{"id": c.id, "method": method, "params": params}
	if session != "" {
		msg["sessionId"] = session
	}
	b, err := json.Marshal(msg)
	if err != nil {
		return nil, err
	}
	if _, err := c.w.Write(append(b, 0)); err != nil {
		return nil, fmt.Errorf("writing %s: %w", method, err)
	}
	if err := c.r.SetReadDeadline(deadline); err != nil {
		return nil, err
	}
	for {
		line, err := c.br.ReadBytes(0)
		if err != nil {
			return nil, fmt.Errorf("reading the answer to %s: %w", method, err)
		}
		var resp struct {
			ID     int             `json:"id"`
			Result json.RawMessage `json:"result"`
			Error  *struct {
				Message string `json:"message"`
			} `json:"error"`
		}
		if err := json.Unmarshal(line[:len(line)-1], &resp); err != nil {
			return nil, err
		}
		if resp.ID != c.id {
			continue // an event
		}
		if resp.Error != nil {
			return nil, fmt.Errorf("%s: %s", method, resp.Error.Message)
		}
		return resp.Result, nil
	}
}

// Evaluate runs a JavaScript expression in session's page and returns its
// value as a string.
func (c *Client) Evaluate(session, expression string, deadline time.Time) (string, error) {
	res, err := c.Call("Runtime.evaluate", map[string]any{"expression": expression, "returnByValue": true}, session, deadline)
	if err != nil {
		return "", err
	}
	var v struct {
		Result struct{ Value string }
	}
	if err := json.Unmarshal(res, &v); err != nil {
		return "", err
	}
	return v.Result.Value, nil
}

// NewPage opens url in a new page and returns the page's session.
func (c *Client) NewPage(url string, deadline time.Time) (string, error) {
	res, err := c.Call("Target.createTarget", map[string]any{"url": url}, "", deadline)
	if err != nil {
		return "", err
	}
	var target struct{ TargetID string }
	if err := json.Unmarshal(res, &target); err != nil {
		return "", err
	}
	return c.attach(target.TargetID, deadline)
}

// AttachPage waits until a page shows url (one the browser opened from its
// command line) and returns its session.
func (c *Client) AttachPage(url string, deadline time.Time) (string, error) {
	var seen string
	for time.Now().Before(deadline) {
		res, err := c.Call("Target.getTargets", map[string]any{}, "", deadline)
		if err != nil {
			return "", err
		}
		var targets struct {
			TargetInfos []struct {
				TargetID, Type, URL string
			}
		}
		if err := json.Unmarshal(res, &targets); err != nil {
			return "", err
		}
		seen = string(res)
		for _, ti := range targets.TargetInfos {
			if ti.Type == "page" && ti.URL == url {
				return c.attach(ti.TargetID, deadline)
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	return "", fmt.Errorf("no window on %s in time; targets: %s", url, seen)
}

func (c *Client) attach(targetID string, deadline time.Time) (string, error) {
	res, err := c.Call("Target.attachToTarget", map[string]any{"targetId": targetID, "flatten": true}, "", deadline)
	if err != nil {
		return "", err
	}
	var s struct{ SessionID string }
	if err := json.Unmarshal(res, &s); err != nil {
		return "", err
	}
	return s.SessionID, nil
}
