// Package command is the agent's remote-command controller (issue 7, D4
// scenario 02): at every pass it fetches the device's pending commands
// from the tenant API (GET /v1/device/commands, mutual TLS with the device
// certificate, which the API still accepts for commands after revoking it
// at step-ca), verifies each with the command key pinned at enrollment
// (AgentConfig.CommandKey), refuses another device's, an expired or a
// replayed one (ids are remembered in its state file), executes a lock or
// wipe through an Executor once, and acknowledges the result. After a lock
// or a wipe the tunnel stays down (Locked).
//
// It owns the command state file and the verification; what a lock or a
// wipe does on this OS is platform/lock's and platform/wipe's.
package command
