//go:build !darwin && !linux

package pcsc

import (
	"errors"
	"fmt"
	"runtime"
)

// handle stands in for SCARDCONTEXT and SCARDHANDLE where there is no binding.
type handle = uintptr

// maxBufferSizeExtended keeps MaxResponse defined; nothing transmits here.
const maxBufferSizeExtended = 4 + 3 + 1<<16 + 3 + 2

// errNoBinding is what every call returns on an OS this package does not
// cover (Windows: piv-go calls winscard.dll itself without cgo).
var errNoBinding = fmt.Errorf("pcsc: no purego pc/sc binding on %s: %w", runtime.GOOS, errors.ErrUnsupported)

func establishContext(Scope) (handle, error) { return 0, errNoBinding }

func releaseContext(handle) error { return errNoBinding }

func listReaders(handle) ([]string, error) { return nil, errNoBinding }

func connect(handle, string, ShareMode, Protocol) (handle, Protocol, error) {
	return 0, 0, errNoBinding
}

func disconnect(handle, Disposition) error { return errNoBinding }

func beginTransaction(handle) error { return errNoBinding }

func endTransaction(handle, Disposition) error { return errNoBinding }

func transmit(handle, Protocol, []byte) ([]byte, error) { return nil, errNoBinding }
