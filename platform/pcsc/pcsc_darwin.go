//go:build darwin

package pcsc

import "unsafe"

// libraryPath is Apple's PC/SC framework, present on every macOS.
const libraryPath = "/System/Library/Frameworks/PCSC.framework/PCSC"

// PCSC.framework's headers declare DWORD as uint32_t and LONG, SCARDCONTEXT
// and SCARDHANDLE as int32_t, unlike pcsc-lite's unsigned long and long. A
// LONG return is therefore an int32 in w0 on arm64 (the upper half of x0 is
// undefined); purego truncates to the declared int32.
type (
	dword  = uint32
	long   = int32
	handle = int32
)

// maxBufferSizeExtended is PCSC.framework's MAX_BUFFER_SIZE_EXTENDED, which
// leaves out the two status-word bytes pcsc-lite counts.
const maxBufferSizeExtended = 4 + 3 + 1<<16 + 3

// noReadersMeansEmpty is false as in piv-go: PCSC.framework reports no
// readers as an empty list, so an SCARD_E_NO_READERS_AVAILABLE is a real
// error there.
const noReadersMeansEmpty = false

// SCARD_IO_REQUEST is two uint32_t (packed, 8 bytes) in PCSC.framework; these
// fail to compile if ioRequest is any other size.
var (
	_ [unsafe.Sizeof(ioRequest{}) - 8]struct{}
	_ [8 - unsafe.Sizeof(ioRequest{})]struct{}
)
