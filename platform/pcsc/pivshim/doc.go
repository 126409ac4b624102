// Package pivshim holds pcsc_purego.go.in, the file that scripts/pcsc-overlay
// adds to piv-go's piv package with `go build -overlay` so that piv-go builds
// with CGO_ENABLED=0 on darwin and linux, calling package pcsc instead of
// libpcsclite or PCSC.framework through cgo (docs/pcsc-without-cgo.md).
//
// Its tests own the proof: the shim declares exactly what piv-go's cgo files
// declared for the rest of piv-go, a piv-go program cross-builds and vets for
// darwin and linux without cgo, and such a program drives a virtual YubiKey
// through pcscd. It has no Go API; nothing imports it.
package pivshim
