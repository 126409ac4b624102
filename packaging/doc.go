// Package packaging builds the per-OS installers (.deb, .pkg, .msi) from the
// binaries of one commit, with their service definitions and default
// configuration. Templates are rendered by pure functions; nothing from
// test/ is ever packaged.
package packaging
