//go:build !unix

package appcert

import "os/exec"

// setCredential does nothing: on Windows (and other systems without unix
// credentials) the tools run as the agent's own account, whose CurrentUser
// store they use.
func setCredential(*exec.Cmd, User) {}

// chown does nothing: the files stay the agent account's own.
func chown(string, User) error { return nil }
