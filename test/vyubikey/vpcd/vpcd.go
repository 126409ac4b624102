// Package vpcd plugs a virtual card into a vsmartcard vpcd reader slot.
//
// vpcd (the virtual PC/SC reader driver loaded by pcscd) listens on a TCP
// port per slot; the virtual card connects to it as a client. Every message
// in both directions is a two-byte big-endian length and a payload. From
// vpcd, a one-byte payload is a control message (00 power off, 01 power on,
// 02 reset, 04 get ATR) and anything longer is a command APDU; the card
// answers ATR requests with its ATR and APDUs with the response APDU, and
// sends nothing for power and reset.
//
// This package owns only that wire protocol and the reconnect loop. It does
// not know what a PIV card is (package card does) or which slot is free
// (package pcsctest does). Test-only code.
package vpcd

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"time"
)

// Control messages from vpcd.
const (
	ctrlPowerOff = 0x00
	ctrlPowerOn  = 0x01
	ctrlReset    = 0x02
	ctrlGetATR   = 0x04
)

// Card is the virtual card behind the slot.
type Card interface {
	// ATR returns the answer-to-reset.
	ATR() []byte
	// Transmit answers one command APDU with a response APDU.
	Transmit(apdu []byte) []byte
	// PowerOff, PowerOn and Reset end the card's session.
	PowerOff()
	PowerOn()
	Reset()
}

// Options tune Run. The zero value is fine.
type Options struct {
	// Logger receives connection events; nil discards.
	Logger *slog.Logger
	// MinBackoff and MaxBackoff bound the wait between connection attempts
	// (0: 50 ms and 2 s).
	MinBackoff, MaxBackoff time.Duration
	// OnReady, when set, is called each time vpcd first talks on a new
	// connection. A TCP connection alone proves nothing: the kernel completes
	// it from the listen backlog even when the driver never accepts it
	// (libifdvpcd only serves the ports of its ctx table; see the pcsctest
	// package for the consequence).
	OnReady func()
}

// Run connects card to the vpcd slot at addr ("127.0.0.1:35963") and
// serves it, reconnecting with backoff when vpcd is not there or drops the
// connection, until ctx is done. It returns nil after ctx is cancelled.
func Run(ctx context.Context, addr string, card Card, opts Options) error {
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	minB, maxB := opts.MinBackoff, opts.MaxBackoff
	if minB <= 0 {
		minB = 50 * time.Millisecond
	}
	if maxB <= 0 {
		maxB = 2 * time.Second
	}
	backoff := minB
	var d net.Dialer
	warned := false
	for {
		conn, err := d.DialContext(ctx, "tcp", addr)
		if ctx.Err() != nil {
			if conn != nil {
				conn.Close()
			}
			return nil
		}
		if err != nil {
			if !warned {
				log.Warn("vpcd not reachable, retrying", "addr", addr, "err", err)
				warned = true
			}
		} else {
			warned = false
			backoff = minB
			log.Info("connected to vpcd slot", "addr", addr)
			err = serve(ctx, conn, card, opts.OnReady)
			if ctx.Err() != nil {
				log.Info("card removed from vpcd slot", "addr", addr)
				return nil
			}
			log.Warn("vpcd connection lost, reconnecting", "addr", addr, "err", err)
		}
		t := time.NewTimer(backoff)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil
		case <-t.C:
		}
		backoff = min(backoff*2, maxB)
	}
}

// Serve runs the vpcd protocol for card on one connection until it fails or
// ctx is done; it closes conn.
func Serve(ctx context.Context, conn net.Conn, card Card) error {
	return serve(ctx, conn, card, nil)
}

func serve(ctx context.Context, conn net.Conn, card Card, onReady func()) error {
	defer conn.Close()
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	defer stop()
	for {
		quickAck(conn)
		msg, err := readMsg(conn)
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			return fmt.Errorf("reading from vpcd: %w", err)
		}
		if onReady != nil {
			onReady()
			onReady = nil
		}
		var reply []byte
		if len(msg) == 1 {
			switch msg[0] {
			case ctrlPowerOff:
				card.PowerOff()
			case ctrlPowerOn:
				card.PowerOn()
			case ctrlReset:
				card.Reset()
			case ctrlGetATR:
				reply = card.ATR()
			default:
				return fmt.Errorf("unknown vpcd control message %#02x", msg[0])
			}
			if reply == nil {
				continue
			}
		} else {
			reply = card.Transmit(msg)
		}
		if err := writeMsg(conn, reply); err != nil {
			return fmt.Errorf("writing to vpcd: %w", err)
		}
	}
}

// readMsg reads one length-prefixed message.
func readMsg(r io.Reader) ([]byte, error) {
	var hdr [2]byte
	if _, err := io.ReadFull(r, hdr[:]); err != nil {
		return nil, err
	}
	n := binary.BigEndian.Uint16(hdr[:])
	if n == 0 {
		return nil, errors.New("empty vpcd message")
	}
	msg := make([]byte, n)
	if _, err := io.ReadFull(r, msg); err != nil {
		return nil, err
	}
	return msg, nil
}

// writeMsg writes one length-prefixed message.
func writeMsg(w io.Writer, msg []byte) error {
	if len(msg) > 0xffff {
		return fmt.Errorf("message of %d bytes too long for vpcd", len(msg))
	}
	buf := make([]byte, 2+len(msg))
	binary.BigEndian.PutUint16(buf, uint16(len(msg)))
	copy(buf[2:], msg)
	_, err := w.Write(buf)
	return err
}
