// Package card is a software PIV card with the YubiKey extensions: a pure
// APDU processor that answers command APDUs the way a USB YubiKey 5 with
// firmware 5.4.3 or 5.7.1 does (status words, TLV structure, ATR, default
// credentials, attestation certificate shape), recorded from real keys in
// shared/fixtures/yubikey.
//
// It owns the card's behaviour and its persisted state (a JSON file written
// atomically). It does not talk to PC/SC or to the network: package
// test/vyubikey/vpcd plugs a Card into a vpcd reader slot, and package
// test/pcsctest starts one for tests. It is test-only code and must never be
// imported by anything that ships.
package card
