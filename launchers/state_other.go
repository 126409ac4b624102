//go:build !windows && !darwin

package launchers

// DefaultDispatchState is where the dispatcher reads its state on this OS
// when its desktop entry passes no --state: "/" + xdg.DispatchState.
const DefaultDispatchState = "/var/lib/kiwistack/launchers/dispatch.json"
