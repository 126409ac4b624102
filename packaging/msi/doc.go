// Package msi builds the kiwistack Windows installer
// (kiwistack-<version>-amd64.msi) on Linux with wixl from Debian's msitools:
// the enroller and the agent in Program Files, the agent as an automatic
// Windows service restarted on failure, a Start Menu folder, a default
// enroller configuration in ProgramData that upgrades never overwrite, and a
// stable UpgradeCode so that a newer package replaces an older one in place.
// Binaries and the package are signed with Authenticode by osslsigncode.
//
// Rendering is pure ([Render]: data to the WiX source, the files it packs and
// the table fixups wixl cannot express); [Build] runs wixl, msibuild and
// osslsigncode on binaries already built. It does not build binaries, does
// not produce arm64 packages (wixl cannot; docs/packages-windows.md) and
// never packages anything from test/.
package msi
