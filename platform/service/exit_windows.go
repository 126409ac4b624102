package service

import "os"

// exitOnFailure ends the process when the Runner fails on its own: the
// Service Control Manager offers no way for a service to stop itself through
// kardianos, and exiting non-zero lets its recovery action (restart after
// 5 s) apply.
func exitOnFailure() { os.Exit(1) }
