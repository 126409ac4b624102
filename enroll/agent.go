package enroll

import (
	"context"
	"errors"
	"net"
	"time"

	"github.com/kiwistack/endpoint/agent/status"
	"github.com/kiwistack/endpoint/platform/localsock"
)

// agentPokeTimeout bounds the call to the running agent: enrolling never
// waits on it.
const agentPokeTimeout = time.Second

// whenAgentStarts is what step 7 says when no agent took the poke.
const whenAgentStarts = "the agent will pick the enrollment up when it starts"

// pokeAgent asks the agent listening at sock (localsock.DefaultPath under
// --root) to reconcile at once (POST /localapi/v0/reconcile), so that it
// reads the enrollment just installed and brings the tunnel up. It returns
// what happened, for step 7, and never fails: without a running agent, or
// with one that does not answer within agentPokeTimeout, the agent picks
// the enrollment up when it starts.
func pokeAgent(ctx context.Context, sock string) string {
	ctx, cancel := context.WithTimeout(ctx, agentPokeTimeout)
	defer cancel()
	c := status.NewClient(func(ctx context.Context) (net.Conn, error) { return localsock.Dial(ctx, sock) })
	err := c.Reconcile(ctx)
	switch {
	case err == nil:
		return "the running agent was asked to bring the tunnel up now"
	case errors.Is(err, localsock.ErrNotRunning):
		return "no agent is running; " + whenAgentStarts
	default:
		return "the running agent did not take the enrollment (" + err.Error() + "); " + whenAgentStarts
	}
}
