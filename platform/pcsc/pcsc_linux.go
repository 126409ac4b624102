//go:build linux

package pcsc

// libraryPath is pcsc-lite's client library (Debian: libpcsclite1), found
// through the dynamic loader's search path.
const libraryPath = "libpcsclite.so.1"

// pcsc-lite's wintypes.h declares DWORD as unsigned long and LONG as long,
// and pcsclite.h declares SCARDCONTEXT and SCARDHANDLE as LONG: 64 bits on
// linux/amd64 and linux/arm64. Go's uint and int have C long's width on every
// Linux ABI Go supports (LP64 and ILP32).
type (
	dword  = uint
	long   = int
	handle = int
)

// maxBufferSizeExtended is pcsc-lite's MAX_BUFFER_SIZE_EXTENDED: 64 KiB of
// data, the APDU header, Lc, Le and the status word.
const maxBufferSizeExtended = 4 + 3 + 1<<16 + 3 + 2

// noReadersMeansEmpty: pcsc-lite answers SCardListReaders with
// SCARD_E_NO_READERS_AVAILABLE when no reader is attached, which piv-go (and
// this package) turns into an empty list.
const noReadersMeansEmpty = true
