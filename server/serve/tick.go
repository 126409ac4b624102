package serve

import (
	"context"
	"log/slog"
	"time"

	"github.com/kiwistack/endpoint/server/api"
)

// TickInterval is how often Serve evaluates open operations, so that a
// staged operation applies (and a pending one expires) without a read.
const TickInterval = time.Minute

// tickOperations calls h.Tick every TickInterval until ctx ends.
func tickOperations(ctx context.Context, h *api.Server, log *slog.Logger) {
	t := time.NewTicker(TickInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-t.C:
			if err := h.Tick(ctx, now); err != nil && ctx.Err() == nil {
				log.Error("evaluating open operations", "err", err)
			}
		}
	}
}
