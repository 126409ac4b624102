// Package conformance holds the end-to-end tests that real PC/SC clients
// (piv-go, yubico-piv-tool, OpenSC) cannot tell a virtual YubiKey from a
// USB one, through a real pcscd and the vpcd reader driver. It has no
// non-test code beyond this comment and must not be imported.
package conformance
