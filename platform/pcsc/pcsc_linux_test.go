package pcsc

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"
	"unsafe"

	"github.com/ebitengine/purego"
)

// vpcdReaders are the reader slots scripts/start-pcscd configures.
var vpcdReaders = []string{"Virtual PCD 00 00", "Virtual PCD 00 01", "Virtual PCD B 00 00", "Virtual PCD B 00 01"}

// pcscdSocket is where Debian's pcscd listens.
const pcscdSocket = "/run/pcscd/pcscd.comm"

// needPCSCD skips the test unless this process is root and pcscd is running,
// or fails it when KIWISTACK_REQUIRE_HW_TESTS=1 (make test sets it).
func needPCSCD(t *testing.T) {
	t.Helper()
	var why string
	if os.Geteuid() != 0 {
		why = "needs root: scripts/start-pcscd runs pcscd as root with the vpcd reader slots"
	} else if _, err := os.Stat(pcscdSocket); err != nil {
		why = "needs pcscd with the vpcd readers (" + pcscdSocket + " missing): run scripts/start-pcscd"
	}
	if why == "" {
		return
	}
	if os.Getenv("KIWISTACK_REQUIRE_HW_TESTS") == "1" {
		t.Fatal(why + " (KIWISTACK_REQUIRE_HW_TESTS=1 forbids skipping)")
	}
	t.Skip(why + " (set KIWISTACK_REQUIRE_HW_TESTS=1 to fail instead)")
}

// TestIORequestLayout reads pcsc-lite's own g_rgSCardT1Pci (what C code
// passes as SCARD_PCI_T1) into an ioRequest: the protocol must land in
// protocol and the library's sizeof(SCARD_IO_REQUEST) must be ours.
func TestIORequestLayout(t *testing.T) {
	lib, err := purego.Dlopen(libraryPath, purego.RTLD_NOW|purego.RTLD_LOCAL)
	if err != nil {
		t.Fatalf("loading %s: %v", libraryPath, err)
	}
	pci, err := purego.Dlsym(lib, "g_rgSCardT1Pci")
	if err != nil {
		t.Fatalf("looking up g_rgSCardT1Pci: %v", err)
	}
	libc, err := purego.Dlopen("libc.so.6", purego.RTLD_NOW|purego.RTLD_LOCAL)
	if err != nil {
		t.Fatalf("loading libc.so.6: %v", err)
	}
	var memcpy func(dst *ioRequest, src uintptr, n uintptr) uintptr
	purego.RegisterLibFunc(&memcpy, libc, "memcpy")

	var got ioRequest
	memcpy(&got, pci, unsafe.Sizeof(got))
	want := ioRequest{protocol: dword(ProtocolT1), pciLength: dword(unsafe.Sizeof(ioRequest{}))}
	if got != want {
		t.Errorf("g_rgSCardT1Pci read as ioRequest = %+v, want %+v", got, want)
	}
	if unsafe.Sizeof(uintptr(0)) == 8 && unsafe.Sizeof(got) != 16 {
		t.Errorf("sizeof(ioRequest) = %d, want 16 (two 64-bit unsigned longs)", unsafe.Sizeof(got))
	}
}

func TestPCSCD(t *testing.T) {
	needPCSCD(t)
	ctx, err := EstablishContext(ScopeSystem)
	if err != nil {
		t.Fatalf("EstablishContext: %v", err)
	}
	defer func() {
		if err := ctx.Release(); err != nil {
			t.Errorf("Release: %v", err)
		}
	}()

	readers, err := ctx.ListReaders()
	if err != nil {
		t.Fatalf("ListReaders: %v", err)
	}
	for _, r := range vpcdReaders {
		if !slices.Contains(readers, r) {
			t.Fatalf("ListReaders = %q, missing %q: is pcscd running with scripts/start-pcscd's configuration?", readers, r)
		}
	}

	t.Run("empty slot", func(t *testing.T) {
		reader := reserveEmptySlot(t)
		err := within(t, 30*time.Second, "SCardConnect("+reader+")", func() error {
			_, err := ctx.Connect(reader, ShareExclusive, ProtocolT1)
			return err
		})
		if !errors.Is(err, ErrNoSmartcard) {
			t.Fatalf("Connect(%q) = %v, want %v", reader, err, ErrNoSmartcard)
		}
		want := `connecting to reader "` + reader + `": the operation requires a Smart Card, but no Smart Card is currently in the device`
		if got := err.Error(); got != want {
			t.Errorf("Connect(%q) error = %q, want %q", reader, got, want)
		}
	})

	t.Run("unknown reader", func(t *testing.T) {
		_, err := ctx.Connect("No Such Reader 00 00", ShareExclusive, ProtocolT1)
		if !errors.Is(err, ErrUnknownReader) {
			t.Errorf("Connect(no such reader) = %v, want %v", err, ErrUnknownReader)
		}
	})
	t.Run("NUL in reader name", func(t *testing.T) {
		if _, err := ctx.Connect("Virtual PCD 00 00\x00", ShareExclusive, ProtocolT1); err == nil {
			t.Error("Connect with a NUL in the name succeeded")
		}
	})
}

func TestReleasedContext(t *testing.T) {
	needPCSCD(t)
	ctx, err := EstablishContext(ScopeSystem)
	if err != nil {
		t.Fatalf("EstablishContext: %v", err)
	}
	if err := ctx.Release(); err != nil {
		t.Fatalf("Release: %v", err)
	}
	// The handle is gone: pcsc-lite must say so, proving the handle and the
	// return code cross the ABI intact.
	if _, err := ctx.ListReaders(); !errors.Is(err, ReturnCode(0x80100003)) {
		t.Errorf("ListReaders on a released context = %v, want SCARD_E_INVALID_HANDLE", err)
	}
}

// reserveEmptySlot takes a vpcd slot the way test/pcsctest does (an
// exclusive flock on $KIWISTACK_PCSCD_STATE/slot-PORT.lock, slots from the
// vpcd-slots table scripts/start-pcscd writes) so that no virtual YubiKey
// from a concurrent test sits in it, and returns its reader name. The slot
// is released when the test ends.
func reserveEmptySlot(t *testing.T) string {
	t.Helper()
	state := os.Getenv("KIWISTACK_PCSCD_STATE")
	if state == "" {
		state = "/run/kiwistack-test"
	}
	table, err := os.ReadFile(filepath.Join(state, "vpcd-slots"))
	if err != nil {
		t.Fatalf("reading the vpcd slot table (scripts/start-pcscd writes it): %v", err)
	}
	deadline := time.Now().Add(2 * time.Minute)
	for {
		sc := bufio.NewScanner(strings.NewReader(string(table)))
		for sc.Scan() {
			port, reader, ok := strings.Cut(sc.Text(), "\t")
			if !ok {
				continue
			}
			f, err := os.OpenFile(filepath.Join(state, fmt.Sprintf("slot-%s.lock", port)), os.O_RDWR|os.O_CREATE, 0o600)
			if err != nil {
				t.Fatalf("opening slot lock: %v", err)
			}
			if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
				f.Close()
				continue
			}
			t.Cleanup(func() { f.Close() })
			return reader
		}
		if time.Now().After(deadline) {
			t.Fatal("every vpcd slot stayed taken by other tests for 2 minutes")
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// within runs f and fails the test if it does not return in time: a wedged
// pcscd blocks SCardConnect forever, and this says so instead of hanging
// until the test binary's timeout.
func within(t *testing.T, d time.Duration, what string, f func() error) error {
	t.Helper()
	done := make(chan error, 1)
	go func() { done <- f() }()
	select {
	case err := <-done:
		return err
	case <-time.After(d):
		t.Fatalf("%s did not return within %v: pcscd is wedged (see $KIWISTACK_PCSCD_STATE/pcscd.log; restart it with scripts/start-pcscd after stopping it)", what, d)
		return nil
	}
}
