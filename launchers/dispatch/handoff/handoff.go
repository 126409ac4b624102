// Package handoff hands the URL dispatcher's process over to the program it
// chose: the argv goes straight to the OS, never through a shell, so no
// character of a URL is ever interpreted. On Unix the dispatcher's process
// becomes the target (execve, handoff_unix.go), so nothing is left running
// and the target inherits the dispatcher's standard streams and
// environment; elsewhere (Windows, handoff_other.go) the target is started
// as a new process and the dispatcher exits. It decides nothing.
package handoff

import "errors"

// ErrNoProgram is returned for an empty argv or a relative program path:
// the caller resolves the program first.
var ErrNoProgram = errors.New("no program to run: want an argv whose first element is an absolute path")
