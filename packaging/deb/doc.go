// Package deb builds the kiwistack Debian package (kiwistack_<version>_<arch>.deb)
// with nfpm as a library: the enroller and the agent in /usr/bin, the agent's
// hardened systemd unit, a default configuration (a conffile), the DEP-5
// copyright file, lintian overrides and maintainer scripts that tell install,
// upgrade, remove and purge apart.
//
// Rendering is pure ([Render]: data to bytes); [Build] writes one package to
// an io.Writer from binaries already built. It does not build binaries, sign
// packages or know about other package formats, and nothing from test/ is
// ever packaged.
package deb
