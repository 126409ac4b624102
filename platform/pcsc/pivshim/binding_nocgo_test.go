//go:build !cgo

package pivshim

// binding names the PC/SC binding piv-go uses in this test binary: without
// cgo piv-go only compiles with the overlay, so it is the shim.
const binding = "the pivshim overlay (platform/pcsc through purego)"
