// Package platform holds everything that differs between Linux, macOS and
// Windows, behind small interfaces and functions whose per-OS
// implementations live in _linux.go, _darwin.go and _windows.go files with
// build tags that complement each other exactly. Callers never switch on
// runtime.GOOS; this package never imports a feature package.
package platform
