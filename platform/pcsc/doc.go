// Package pcsc is a small PC/SC client for macOS and Linux that needs no
// cgo: it loads PCSC.framework (darwin) or libpcsclite.so.1 (linux) at run
// time with purego and calls the handful of SCard functions a PIV client
// needs: establish and release a context, list readers, connect and
// disconnect, begin and end a transaction, transmit an APDU.
//
// It owns the C ABI of those two libraries (the widths of DWORD, LONG and
// the handles, the SCARD_IO_REQUEST layout, return-code normalisation) and
// the PC/SC return codes as Go errors ([ReturnCode]). It exists so that
// binaries using piv-go cross-compile with CGO_ENABLED=0; the overlay file in
// pivshim plugs it into piv-go at build time (docs/pcsc-without-cgo.md).
//
// It does not speak APDUs, PIV or any card protocol, keeps no state beyond
// the loaded library, and does not cover Windows, where piv-go already calls
// winscard.dll without cgo: there every call returns an error wrapping
// [errors.ErrUnsupported].
package pcsc
