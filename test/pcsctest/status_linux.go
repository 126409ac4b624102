//go:build linux && cgo

package pcsctest

// #cgo pkg-config: libpcsclite
// #include <stdlib.h>
// #include <string.h>
// #include <winscard.h>
//
// // reader_state asks pcscd for the current state and ATR of one reader
// // without connecting to the card (a connection would be exclusive for
// // piv-go's callers). Returns the PC/SC result code.
// static LONG reader_state(const char *reader, DWORD *state, unsigned char *atr, DWORD *atrLen) {
//     SCARDCONTEXT ctx;
//     LONG rc = SCardEstablishContext(SCARD_SCOPE_SYSTEM, NULL, NULL, &ctx);
//     if (rc != SCARD_S_SUCCESS) return rc;
//     SCARD_READERSTATE rs;
//     memset(&rs, 0, sizeof rs);
//     rs.szReader = reader;
//     rs.dwCurrentState = SCARD_STATE_UNAWARE;
//     rc = SCardGetStatusChange(ctx, 0, &rs, 1);
//     if (rc == SCARD_S_SUCCESS) {
//         *state = rs.dwEventState;
//         *atrLen = rs.cbAtr;
//         memcpy(atr, rs.rgbAtr, rs.cbAtr);
//     }
//     SCardReleaseContext(ctx);
//     return rc;
// }
import "C"

import (
	"bytes"
	"fmt"
	"unsafe"

	"github.com/kiwistack/endpoint/test/vyubikey/card"
)

// cardPresent reports whether pcscd sees a card with a YubiKey ATR in the
// reader; the error says why not. It does not connect to the card.
func cardPresent(reader string) error {
	cr := C.CString(reader)
	defer C.free(unsafe.Pointer(cr))
	var state, atrLen C.DWORD
	atr := make([]byte, C.MAX_ATR_SIZE)
	rc := C.reader_state(cr, &state, (*C.uchar)(unsafe.Pointer(&atr[0])), &atrLen)
	if rc != C.SCARD_S_SUCCESS {
		return fmt.Errorf("SCardGetStatusChange(%q): pcsc error 0x%08x", reader, uint32(rc))
	}
	if state&C.SCARD_STATE_PRESENT == 0 {
		return fmt.Errorf("no card in %q (reader state 0x%x)", reader, uint32(state))
	}
	if state&C.SCARD_STATE_MUTE != 0 {
		return fmt.Errorf("card in %q is mute (reader state 0x%x)", reader, uint32(state))
	}
	if got := atr[:atrLen]; !bytes.Equal(got, card.ATR) {
		return fmt.Errorf("card in %q has ATR %x, not a YubiKey's", reader, got)
	}
	return nil
}
