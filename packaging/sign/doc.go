// Package sign reads and writes minisign's formats (Ed25519 keys and
// detached signatures, https://jedisct1.github.io/minisign/) so that every
// artefact in dist/ carries a signature that both the enroller and the
// minisign tool verify. It generates keys, signs and verifies; it decides
// nothing about which key to trust (the enroller does), and it never reads
// a password from a terminal.
package sign
