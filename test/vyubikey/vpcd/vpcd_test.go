package vpcd

import (
	"bytes"
	"context"
	"net"
	"sync"
	"testing"
	"time"
)

// fakeCard records what vpcd asked of it.
type fakeCard struct {
	mu     sync.Mutex
	events []string
}

func (f *fakeCard) log(e string) { f.mu.Lock(); f.events = append(f.events, e); f.mu.Unlock() }
func (f *fakeCard) ATR() []byte  { f.log("atr"); return []byte{0x3b, 0x01} }
func (f *fakeCard) Transmit(a []byte) []byte {
	f.log("apdu")
	return append(bytes.Clone(a), 0x90, 0x00)
}
func (f *fakeCard) PowerOff() { f.log("off") }
func (f *fakeCard) PowerOn()  { f.log("on") }
func (f *fakeCard) Reset()    { f.log("reset") }

// TestRunProtocol plays vpcd: it accepts the card's connection, sends the
// control messages and an APDU, drops the connection to see the card
// reconnect, and cancels.
func TestRunProtocol(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	card := &fakeCard{}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	ready := make(chan struct{}, 4)
	go func() {
		done <- Run(ctx, ln.Addr().String(), card, Options{MinBackoff: time.Millisecond, OnReady: func() { ready <- struct{}{} }})
	}()

	tests := []struct {
		name string
		send []byte
		want []byte // nil: no answer expected
	}{
		{"power on", []byte{ctrlPowerOn}, nil},
		{"get ATR", []byte{ctrlGetATR}, []byte{0x3b, 0x01}},
		{"reset", []byte{ctrlReset}, nil},
		{"apdu", []byte{0x00, 0xfd, 0x00, 0x00}, []byte{0x00, 0xfd, 0x00, 0x00, 0x90, 0x00}},
		{"power off", []byte{ctrlPowerOff}, nil},
		{"get ATR after power off", []byte{ctrlGetATR}, []byte{0x3b, 0x01}},
	}
	for round := range 2 { // the second round checks the reconnect
		conn, err := ln.Accept()
		if err != nil {
			t.Fatal(err)
		}
		for _, tt := range tests {
			if err := writeMsg(conn, tt.send); err != nil {
				t.Fatal(err)
			}
			if tt.want == nil {
				continue
			}
			conn.SetReadDeadline(time.Now().Add(5 * time.Second))
			got, err := readMsg(conn)
			if err != nil || !bytes.Equal(got, tt.want) {
				t.Fatalf("round %d, %s: got %x, %v; want %x", round, tt.name, got, err, tt.want)
			}
		}
		<-ready
		conn.Close()
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Run after cancel = %v, want nil", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Run did not stop after cancel")
	}
	card.mu.Lock()
	defer card.mu.Unlock()
	want := []string{"on", "atr", "reset", "apdu", "off", "atr"}
	if len(card.events) != 2*len(want) {
		t.Fatalf("card saw %v, want %v twice", card.events, want)
	}
}

// TestRunWithoutVPCD checks Run keeps retrying politely and stops on
// cancel when nothing listens.
func TestRunWithoutVPCD(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	start := time.Now()
	if err := Run(ctx, addr, &fakeCard{}, Options{}); err != nil {
		t.Fatalf("Run = %v, want nil on context end", err)
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("Run took %v to stop after its context ended", d)
	}
}
