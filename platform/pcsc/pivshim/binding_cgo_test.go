//go:build cgo

package pivshim

// binding names the PC/SC binding piv-go uses in this test binary.
const binding = "piv-go's own cgo binding (libpcsclite)"
