// Package pkg builds the kiwistack macOS installer, a flat product archive
// (kiwistack_<version>_universal.pkg) for macOS 14 and later, on Linux and
// without Apple's tools: a xar archive (package xar) holding a Distribution
// and one component package, kiwistack.pkg, with its PackageInfo, a gzip'd
// odc cpio Payload and Scripts (package cpio) and a Bom (package bom).
//
// The payload holds the enroller and the agent as universal binaries in
// /usr/local/bin, the agent's launchd daemon, the default enroller
// configuration and the licence; the scripts stop an older agent before an
// upgrade and load the new one after it.
//
// Rendering is pure ([Render]: data to bytes); [Build] writes one package
// from darwin binaries already built. It does not build binaries, sign or
// notarize packages (a release step, docs/packages-macos.md) or know about
// other package formats, and nothing from test/ is ever packaged.
package pkg
