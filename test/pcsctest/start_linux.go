//go:build linux && cgo

package pcsctest

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/kiwistack/endpoint/test/vyubikey/card"
	"github.com/kiwistack/endpoint/test/vyubikey/vpcd"
)

// missing reports why virtual YubiKeys cannot run here, "" when they can.
func missing() string { return missingCommon() }

// stateDir is where scripts/start-pcscd keeps its state and the slot table.
func stateDir() string {
	if d := os.Getenv("KIWISTACK_PCSCD_STATE"); d != "" {
		return d
	}
	return "/run/kiwistack-test"
}

var (
	pcscdOnce sync.Once
	pcscdErr  error
)

// ensurePcscd runs scripts/start-pcscd once per process (it is idempotent).
func ensurePcscd() error {
	pcscdOnce.Do(func() {
		root, err := moduleRoot()
		if err != nil {
			pcscdErr = err
			return
		}
		out, err := exec.Command(filepath.Join(root, "scripts", "start-pcscd")).CombinedOutput()
		if err != nil {
			pcscdErr = fmt.Errorf("scripts/start-pcscd: %w: %s", err, out)
			return
		}
		pcscdErr = checkVPCDAliasing(filepath.Join(stateDir(), "pcscd.log"))
	})
	return pcscdErr
}

// checkVPCDAliasing reads the running pcscd's log for the sign that two
// vpcd DEVICENAME lines share one loaded libifdvpcd: the first slots of two
// readers ("... 00 00") starting up with the same driver file. libifdvpcd
// keeps its connections in one static table indexed by slot number
// (Lun & 0xffff), so such readers drive the same TCP connection from two
// pcscd threads: answers go to the wrong reader, status words come back as
// ATR bytes, the first line's ports are never served and pcscd hangs. Tests
// would hang for minutes; this fails them at once with the fix.
func checkVPCDAliasing(logPath string) error {
	b, err := os.ReadFile(logPath)
	if err != nil {
		return nil // no log to judge by: let the slots speak for themselves
	}
	first := map[string]string{} // driver file -> reader that started on it
	for _, line := range strings.Split(string(b), "\n") {
		_, rest, ok := strings.Cut(line, "Attempting startup of ")
		if !ok {
			continue
		}
		reader, lib, ok := strings.Cut(rest, " using ")
		if !ok || !strings.HasSuffix(reader, " 00 00") || !strings.Contains(lib, "libifdvpcd") {
			continue
		}
		if other, dup := first[lib]; dup {
			return fmt.Errorf("pcscd (log %s) runs readers %q and %q on one loaded %s; the vpcd driver indexes its "+
				"connections by slot number only, so their ports alias and PC/SC hangs. Fix scripts/start-pcscd: give "+
				"each DEVICENAME its own copy of the driver (LIBPATH), then restart pcscd", logPath, other, reader, lib)
		}
		first[lib] = reader
	}
	return nil
}

// slot is one vpcd reader slot.
type slot struct {
	port   int
	reader string
}

// readSlots reads the "PORT<TAB>READER NAME" table start-pcscd writes.
func readSlots() ([]slot, error) {
	f, err := os.Open(filepath.Join(stateDir(), "vpcd-slots"))
	if err != nil {
		return nil, fmt.Errorf("reading vpcd slot table: %w", err)
	}
	defer f.Close()
	var slots []slot
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		port, name, ok := strings.Cut(sc.Text(), "\t")
		if !ok {
			continue
		}
		p, err := strconv.Atoi(port)
		if err != nil {
			return nil, fmt.Errorf("vpcd slot table: bad port %q: %w", port, err)
		}
		slots = append(slots, slot{port: p, reader: name})
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("reading vpcd slot table: %w", err)
	}
	if len(slots) == 0 {
		return nil, fmt.Errorf("vpcd slot table %s is empty", f.Name())
	}
	return slots, nil
}

// acquireSlot takes the first free live slot: an exclusive non-blocking
// flock on stateDir()/slot-PORT.lock, which the kernel releases if the
// process dies. When all slots are busy it retries until the deadline.
func acquireSlot(slots []slot, deadline time.Time) (slot, *os.File, error) {
	for {
		for _, s := range slots {
			if slotDead(s.port) {
				continue
			}
			path := filepath.Join(stateDir(), fmt.Sprintf("slot-%d.lock", s.port))
			f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
			if err != nil {
				return slot{}, nil, fmt.Errorf("opening slot lock: %w", err)
			}
			if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err == nil {
				f.Truncate(0)
				fmt.Fprintf(f, "%d\n", os.Getpid())
				return s, f, nil
			}
			f.Close()
		}
		if time.Now().After(deadline) {
			return slot{}, nil, fmt.Errorf("no live vpcd slot came free before the deadline (%d in the table)", len(slots))
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// A dead slot is a port pcscd's vpcd driver never serves. libifdvpcd keeps
// one connection per slot number in a table indexed by Lun & 0xffff, so
// when reader.conf.d has two DEVICENAME lines sharing one LIBPATH (as
// scripts/start-pcscd writes) the second line's two ports replace the
// first line's and the "Virtual PCD 00 00/01" ports are never accepted.
// The harness finds this out by plugging in (vpcd never talks) and skips
// the port for the rest of the process. It is not recorded on disk: a port
// that is merely occupied by a card plugged in without the harness looks
// the same.
var (
	deadMu sync.Mutex
	dead   = map[int]bool{}
)

// slotDead reports whether this process found the port dead.
func slotDead(port int) bool {
	deadMu.Lock()
	defer deadMu.Unlock()
	return dead[port]
}

// markSlotDead records a dead port for this process.
func markSlotDead(port int) {
	deadMu.Lock()
	defer deadMu.Unlock()
	dead[port] = true
}

// waitFor polls cond until it holds or the timeout passes.
func waitFor(timeout time.Duration, cond func() bool) bool {
	if timeout <= 0 {
		return cond()
	}
	deadline := time.Now().Add(timeout)
	for {
		if cond() {
			return true
		}
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// testWriter sends log lines to the test log.
type testWriter struct{ t testing.TB }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimSuffix(string(p), "\n"))
	return len(p), nil
}

// Start ensures pcscd runs (scripts/start-pcscd found from the module
// root), takes a free vpcd slot, plugs in a virtual YubiKey, waits until
// PC/SC sees the card and registers cleanup that unplugs it and releases
// the slot.
func Start(t testing.TB, opts Options) *Key {
	t.Helper()
	Require(t)
	if err := ensurePcscd(); err != nil {
		t.Fatal(err)
	}
	slots, err := readSlots()
	if err != nil {
		t.Fatal(err)
	}
	if opts.Version == "" {
		opts.Version = "5.7.1"
	}
	if opts.TouchTimeout == 0 {
		opts.TouchTimeout = 2 * time.Second
	}
	if opts.StateFile == "" {
		opts.StateFile = filepath.Join(t.TempDir(), "vyubikey.json")
	}
	root, rootKey := AttestationRoot(t)
	var logOut io.Writer = testWriter{t}
	logger := slog.New(slog.NewTextHandler(logOut, &slog.HandlerOptions{Level: slog.LevelWarn}))
	c, err := card.New(card.Options{
		Serial:             opts.Serial,
		Version:            opts.Version,
		Touch:              opts.Touch,
		TouchDelay:         opts.TouchDelay,
		TouchTimeout:       opts.TouchTimeout,
		StateFile:          opts.StateFile,
		AttestationRoot:    root,
		AttestationRootKey: rootKey,
		Logger:             logger,
	})
	if err != nil {
		t.Fatalf("creating virtual yubikey: %v", err)
	}

	var (
		s      slot
		lock   *os.File
		cancel context.CancelFunc
		done   chan struct{}
	)
	deadline := time.Now().Add(5 * time.Minute)
	for {
		s, lock, err = acquireSlot(slots, deadline)
		if err != nil {
			t.Fatal(err)
		}
		var ctx context.Context
		ctx, cancel = context.WithCancel(context.Background())
		done = make(chan struct{})
		ready := make(chan struct{})
		var readyOnce sync.Once
		go func(port int, done chan struct{}) {
			defer close(done)
			vpcd.Run(ctx, fmt.Sprintf("127.0.0.1:%d", port), c, vpcd.Options{
				Logger:  logger,
				OnReady: func() { readyOnce.Do(func() { close(ready) }) },
			})
		}(s.port, done)
		select {
		case <-ready:
		case <-time.After(3 * time.Second):
			// pcscd polls every 400 ms: a live slot talks well within this.
			cancel()
			<-done
			markSlotDead(s.port)
			lock.Close()
			t.Logf("vpcd slot %d (%q) is not served by pcscd; trying another", s.port, s.reader)
			continue
		}
		break
	}
	k := &Key{Reader: s.reader, Serial: c.Serial(), Port: s.port, Root: root, t: t, card: c}
	k.unplug = func() {
		cancel()
		<-done
		if !waitFor(10*time.Second, func() bool { return cardPresent(s.reader) != nil }) {
			t.Errorf("virtual yubikey %d: PC/SC still sees a card in %q 10s after unplugging", k.Serial, s.reader)
		}
	}
	t.Cleanup(func() {
		k.unplugO.Do(k.unplug)
		lock.Close() // releases the flock
	})
	var lastErr error
	if !waitFor(20*time.Second, func() bool { lastErr = cardPresent(s.reader); return lastErr == nil }) {
		t.Fatalf("virtual yubikey %d plugged into %q (port %d) but PC/SC did not see it within 20s: %v", k.Serial, s.reader, s.port, lastErr)
	}
	return k
}
