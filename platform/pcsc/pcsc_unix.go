//go:build darwin || linux

package pcsc

import (
	"fmt"
	"sync"
	"unsafe"

	"github.com/ebitengine/purego"
)

// ioRequest is SCARD_IO_REQUEST, the protocol control information passed to
// SCardTransmit: two DWORDs, so 16 bytes with pcsc-lite on 64-bit Linux and
// 8 bytes with PCSC.framework (pcsc_darwin.go asserts the size at compile
// time).
type ioRequest struct {
	protocol  dword // dwProtocol
	pciLength dword // cbPciLength: the size of this struct
}

// library holds the SCard functions of the loaded PC/SC library, typed with
// the platform's widths for DWORD, LONG and the handles.
type library struct {
	establishContext func(scope dword, reserved1, reserved2 unsafe.Pointer, ctx *handle) long
	releaseContext   func(ctx handle) long
	listReaders      func(ctx handle, groups, readers *byte, size *dword) long
	connect          func(ctx handle, reader string, share, protocols dword, card *handle, active *dword) long
	disconnect       func(card handle, disposition dword) long
	beginTransaction func(card handle) long
	endTransaction   func(card handle, disposition dword) long
	transmit         func(card handle, sendPCI *ioRequest, send *byte, sendLen dword, recvPCI *ioRequest, recv *byte, recvLen *dword) long
}

// loadLibrary opens the PC/SC library once per process and resolves every
// function up front, so a missing library or symbol is one clear error
// instead of a panic in the middle of a card session.
var loadLibrary = sync.OnceValues(func() (*library, error) {
	dl, err := purego.Dlopen(libraryPath, purego.RTLD_NOW|purego.RTLD_LOCAL)
	if err != nil {
		return nil, fmt.Errorf("loading %s: %w", libraryPath, err)
	}
	var l library
	for _, f := range []struct {
		name string
		fn   any
	}{
		{"SCardEstablishContext", &l.establishContext},
		{"SCardReleaseContext", &l.releaseContext},
		{"SCardListReaders", &l.listReaders},
		{"SCardConnect", &l.connect},
		{"SCardDisconnect", &l.disconnect},
		{"SCardBeginTransaction", &l.beginTransaction},
		{"SCardEndTransaction", &l.endTransaction},
		{"SCardTransmit", &l.transmit},
	} {
		sym, err := purego.Dlsym(dl, f.name)
		if err != nil {
			return nil, fmt.Errorf("looking up %s in %s: %w", f.name, libraryPath, err)
		}
		purego.RegisterFunc(f.fn, sym)
	}
	return &l, nil
})

// check turns a LONG return value into nil or a ReturnCode. On darwin the
// int32 return of an error code is negative; on linux it is a positive
// 64-bit long. Keeping the low 32 bits gives the header's value on both.
func check(rc long) error {
	if rc == 0 {
		return nil
	}
	return ReturnCode(uint32(rc))
}

func establishContext(scope Scope) (handle, error) {
	l, err := loadLibrary()
	if err != nil {
		return 0, err
	}
	var h handle
	if err := check(l.establishContext(dword(scope), nil, nil, &h)); err != nil {
		return 0, err
	}
	return h, nil
}

func releaseContext(h handle) error {
	l, err := loadLibrary()
	if err != nil {
		return err
	}
	return check(l.releaseContext(h))
}

func listReaders(h handle) ([]string, error) {
	l, err := loadLibrary()
	if err != nil {
		return nil, err
	}
	// Ask for the size, then fetch; a reader plugged in between the two
	// calls makes the buffer too small, so try again a few times.
	for range 3 {
		var n dword
		err := check(l.listReaders(h, nil, nil, &n))
		if err == ErrNoReadersAvailable && noReadersMeansEmpty {
			return nil, nil
		}
		if err != nil {
			return nil, err
		}
		if n == 0 {
			return nil, nil
		}
		buf := make([]byte, n)
		err = check(l.listReaders(h, nil, &buf[0], &n))
		if err == ErrInsufficientBuffer {
			continue
		}
		if err == ErrNoReadersAvailable && noReadersMeansEmpty {
			return nil, nil
		}
		if err != nil {
			return nil, err
		}
		return parseMultiString(buf[:min(int(n), len(buf))]), nil
	}
	return nil, ErrInsufficientBuffer
}

func connect(ctx handle, reader string, mode ShareMode, protocols Protocol) (handle, Protocol, error) {
	l, err := loadLibrary()
	if err != nil {
		return 0, 0, err
	}
	var (
		h      handle
		active dword
	)
	if err := check(l.connect(ctx, reader, dword(mode), dword(protocols), &h, &active)); err != nil {
		return 0, 0, err
	}
	return h, Protocol(active), nil
}

func disconnect(h handle, d Disposition) error {
	l, err := loadLibrary()
	if err != nil {
		return err
	}
	return check(l.disconnect(h, dword(d)))
}

func beginTransaction(h handle) error {
	l, err := loadLibrary()
	if err != nil {
		return err
	}
	return check(l.beginTransaction(h))
}

func endTransaction(h handle, d Disposition) error {
	l, err := loadLibrary()
	if err != nil {
		return err
	}
	return check(l.endTransaction(h, dword(d)))
}

func transmit(h handle, p Protocol, command []byte) ([]byte, error) {
	l, err := loadLibrary()
	if err != nil {
		return nil, err
	}
	pci := ioRequest{protocol: dword(p), pciLength: dword(unsafe.Sizeof(ioRequest{}))}
	resp := make([]byte, maxBufferSizeExtended)
	n := dword(len(resp))
	if err := check(l.transmit(h, &pci, &command[0], dword(len(command)), nil, &resp[0], &n)); err != nil {
		return nil, err
	}
	if int(n) > len(resp) {
		return nil, fmt.Errorf("library reported a %d-byte response for a %d-byte buffer", n, len(resp))
	}
	return append([]byte(nil), resp[:n]...), nil
}
