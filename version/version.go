// Package version holds the build identity of every KiwiStack binary: the
// version string from git describe, the commit and the build date. The
// Makefile injects them with -ldflags -X; a plain `go build` falls back to
// what the Go toolchain recorded in the binary. It must not import anything
// of this module.
package version

import (
	"fmt"
	"runtime"
	"runtime/debug"
)

// Set at link time by the Makefile:
//
//	-X github.com/kiwistack/endpoint/version.Version=$(git describe --tags --always --dirty)
var (
	// Version is the release version, as printed by git describe.
	Version = ""
	// Commit is the full git commit hash the binary was built from.
	Commit = ""
	// Date is the build date in RFC 3339 form (UTC).
	Date = ""
)

// Info is the build identity of a binary, in the shape `--version --json` prints.
type Info struct {
	Version   string `json:"version"`
	Commit    string `json:"commit"`
	Date      string `json:"date"`
	GoVersion string `json:"go"`
	Platform  string `json:"platform"`
}

// Get returns the build identity, filling what the linker did not set from
// the build information the Go toolchain embeds.
func Get() Info {
	info := Info{
		Version:   Version,
		Commit:    Commit,
		Date:      Date,
		GoVersion: runtime.Version(),
		Platform:  runtime.GOOS + "/" + runtime.GOARCH,
	}
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, s := range bi.Settings {
			switch s.Key {
			case "vcs.revision":
				if info.Commit == "" {
					info.Commit = s.Value
				}
			case "vcs.time":
				if info.Date == "" {
					info.Date = s.Value
				}
			}
		}
		if info.Version == "" && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
			info.Version = bi.Main.Version
		}
	}
	if info.Version == "" {
		info.Version = "dev"
	}
	if info.Commit == "" {
		info.Commit = "unknown"
	}
	if info.Date == "" {
		info.Date = "unknown"
	}
	return info
}

// String renders the identity on one line, as `--version` prints it:
// "kiwistack-agent v0.1.0 (commit 1a2b3c4, built 2026-11-28T05:00:00Z, go1.26.8 linux/amd64)".
func (i Info) String() string {
	commit := i.Commit
	if len(commit) > 12 {
		commit = commit[:12]
	}
	return fmt.Sprintf("%s (commit %s, built %s, %s %s)", i.Version, commit, i.Date, i.GoVersion, i.Platform)
}
