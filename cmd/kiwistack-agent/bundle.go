package main

import (
	"path"
	"strings"
)

// bundleArgs is the command line of the macOS dispatcher app. The macOS
// package installs the agent binary as KiwiStack.app's executable, and
// LaunchServices starts it with no arguments (or, on old systems, only a
// -psn_… process serial number); that start means `dispatch
// --apple-events` with the default state file. It is nil when exe is not
// in a bundle's Contents/MacOS or args hold anything else, so the agent
// run by its path with a verb, or by /usr/local/bin, is the plain CLI.
func bundleArgs(exe string, args []string) []string {
	if exe == "" {
		return nil
	}
	dir := path.Dir(path.Clean(exe))
	contents, macos := path.Split(dir)
	contents = path.Clean(contents)
	bundle := path.Dir(contents)
	if macos != "MacOS" || path.Base(contents) != "Contents" || !strings.HasSuffix(strings.ToLower(bundle), ".app") ||
		len(path.Base(bundle)) <= len(".app") {
		return nil
	}
	switch {
	case len(args) == 0:
	case len(args) == 1 && strings.HasPrefix(args[0], "-psn_"):
	default:
		return nil
	}
	return []string{"dispatch", "--apple-events"}
}

// launchArgs returns the arguments the command tree runs with, given the
// process's own (os.Args[1:]). It returns them unchanged except on macOS,
// where bundle_darwin.go sets it to start the dispatcher app when
// LaunchServices runs the agent as the bundle's executable.
var launchArgs = func(args []string) []string { return args }
