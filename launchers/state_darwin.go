//go:build darwin

package launchers

// DefaultDispatchState is where the dispatcher reads its state on this OS
// when it is given no --state: "/" + macos.DispatchState.
const DefaultDispatchState = "/Library/Application Support/KiwiStack/launchers/dispatch.json"
