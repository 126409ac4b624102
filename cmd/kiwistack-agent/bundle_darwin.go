package main

import "os"

func init() {
	launchArgs = func(args []string) []string {
		// os.Executable on darwin is the path the process was started by,
		// not resolved: /usr/local/bin/kiwistack-agent (the symlink) stays
		// outside the bundle.
		exe, err := os.Executable()
		if err != nil {
			exe = os.Args[0]
		}
		if a := bundleArgs(exe, args); a != nil {
			return a
		}
		return args
	}
}
