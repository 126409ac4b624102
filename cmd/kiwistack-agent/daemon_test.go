package main

import (
	"strings"
	"testing"

	"github.com/kiwistack/endpoint/internal/cli"
)

func TestStatusWithoutDaemon(t *testing.T) {
	_, errOut, code := runAgent("status", "--root", t.TempDir())
	if code != cli.ExitNotFound || !strings.Contains(errOut, "the agent is not running") || !strings.Contains(errOut, "kiwistack-agent start") {
		t.Errorf("exit %d, stderr %q; want 3 and what to do", code, errOut)
	}
}
