package localsock

import "errors"

// ErrNotRunning is returned by Dial when nothing listens at the path: the
// agent is not running.
var ErrNotRunning = errors.New("the agent is not running")
